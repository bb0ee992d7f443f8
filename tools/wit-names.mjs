// asc transform: gives the core's exports their canonical-ABI names.
//
// AssemblyScript exports `addChild`; the component model wants
// `childwatch:core/watcher@0.1.0#add-child`. After compilation (before validation and
// optimization) every function export except `_initialize` is renamed to the kebab-case name
// under the `watcher` interface. `memory` stays. Anything else exported fails the build, so the
// module never grows an export the WIT does not know. (Imports are named in the source with
// `@external("childwatch:core/host@0.1.0", "...")`.)
import { Transform } from 'assemblyscript/transform';

export const WATCHER = 'childwatch:core/watcher@0.1.0';

export function kebab(name) {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export default class WitNames extends Transform {
  afterCompile(module) {
    const binaryen = this.binaryen;
    const exports = [];
    for (let i = 0, n = module.getNumExports(); i < n; i++) {
      exports.push(binaryen.getExportInfo(module.getExportByIndex(i)));
    }
    for (const info of exports) {
      if (info.kind === binaryen.ExternalMemory && info.name === 'memory') continue;
      if (info.kind !== binaryen.ExternalFunction) {
        throw new Error(`wit-names: unexpected export ${info.name} (kind ${info.kind})`);
      }
      if (info.name === '_initialize') continue;
      module.removeExport(info.name);
      module.addFunctionExport(info.value, `${WATCHER}#${kebab(info.name)}`);
    }
  }
}
