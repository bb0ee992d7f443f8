// Placeholder: the core build is written in the "Foundation" issue.
console.log('build-core: no core yet');
