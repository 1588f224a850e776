#!/usr/bin/env node
// Second independent reference for the tokenizer tests: Hugging Face `tokenizers` itself (the
// Rust library, 0.22.2, as the native node addon in the npm package @anush008/tokenizers@0.6.0).
//   node hf_tokenizer_reference.js <package dir> <tokenizer.json> <in.json> <out.json> [resave]
// in.json: array of strings. out.json: {"ids": [[...], ...], "decoded": [...]}: encode without
// post-processing (added tokens are always matched, as HF does) and decode(ids, false).
// With `resave`, HF also writes the tokenizer it loaded to that path (HF's own format).
'use strict';
const fs = require('fs');

if (process.argv.length < 6 || process.argv.length > 7) {
  process.stderr.write('usage: node hf_tokenizer_reference.js <@anush008/tokenizers dir> ' +
                       '<tokenizer.json> <in.json> <out.json> [resave.json]\n');
  process.exit(2);
}
const {Tokenizer} = require(process.argv[2]);
const tokenizer = Tokenizer.fromFile(process.argv[3]);
const inputs = JSON.parse(fs.readFileSync(process.argv[4], 'utf-8'));

(async () => {
  const ids = [];
  const decoded = [];
  for (const text of inputs) {
    const encoding = await tokenizer.encode(text, null, {addSpecialTokens: false});
    const t = encoding.getIds();
    ids.push(t);
    decoded.push(await tokenizer.decode(t, false));
  }
  fs.writeFileSync(process.argv[5], JSON.stringify({ids, decoded}));
  if (process.argv[6]) tokenizer.save(process.argv[6], true);
})().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
