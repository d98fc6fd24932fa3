// Validate JSON documents with ajv 8 (JSON Schema 2020-12, ajv-formats), the way a JavaScript client would:
// every number is a binary float. Usage: node ajv_check.js SCHEMA.json… < lines
// Each input line is {"schema": "<$id>", "instance": …}; each output line is "ok" or "refused <first error>".
"use strict";
const fs = require("fs");
const readline = require("readline");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");

// `x-vocabulary` is the schemas' annotation naming a node's value set (README, "Money and codes on the wire"); ajv's
// strict mode refuses keywords it was not told about, so a client declares it, as here.
const ajv = new Ajv2020({ allErrors: false, keywords: ["x-vocabulary"] });
addFormats(ajv);
for (const file of process.argv.slice(2)) ajv.addSchema(JSON.parse(fs.readFileSync(file, "utf8")));

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const out = [];
lines.on("line", (line) => {
  if (!line.trim()) return;
  const { schema, instance } = JSON.parse(line);
  const validate = ajv.getSchema(schema);
  if (!validate) throw new Error(`no schema ${schema}`);
  out.push(validate(instance) ? "ok" : `refused ${validate.errors[0].instancePath} ${validate.errors[0].message}`);
});
lines.on("close", () => process.stdout.write(out.join("\n") + (out.length ? "\n" : "")));
