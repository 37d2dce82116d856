// Validates Kubernetes objects against the API schemas of the npm packages kubernetes-models (the core API),
// @kubernetes-models/keda and @kubernetes-models/prometheus-operator.
//   node validate-objects.mjs NODE_MODULES OBJECTS.json
// OBJECTS.json is a JSON array of objects. Prints one line per object ("ok Kind/name" or "invalid Kind/name: why")
// and exits 1 when any object is invalid or has a kind no package knows.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, file] = process.argv.slice(2);
const objects = JSON.parse(readFileSync(file, "utf8"));

// Where the model class of an apiVersion lives: core ("v1"), named groups of the core API, then the CRD packages.
function candidates(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const path = group ? `${group}/${version}/${kind}.js` : `${version}/${kind}.js`;
  return [
    join(modules, "kubernetes-models", path),
    join(modules, "@kubernetes-models/keda", path),
    join(modules, "@kubernetes-models/prometheus-operator", path),
  ];
}

let failures = 0;
for (const object of objects) {
  const label = `${object.kind}/${object.metadata?.name}`;
  const found = candidates(object.apiVersion ?? "", object.kind ?? "").find(existsSync);
  if (!found) {
    console.log(`invalid ${label}: no schema for ${object.apiVersion} ${object.kind}`);
    failures++;
    continue;
  }
  const exports = await import(pathToFileURL(found).href);
  const Model = exports[object.kind];
  try {
    new Model(object).validate();
    console.log(`ok ${label} (${object.apiVersion})`);
  } catch (error) {
    console.log(`invalid ${label}: ${error.message}`);
    failures++;
  }
}
process.exit(failures === 0 ? 0 : 1);
