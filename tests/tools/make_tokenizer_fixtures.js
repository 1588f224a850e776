#!/usr/bin/env node
// Writes the small hand-made tokenizer fixtures in tests/fixtures/tokenizer/.
//   node tests/tools/make_tokenizer_fixtures.js
// tiny_qwen2.json is a Qwen2-style tokenizer.json (NFC, Sequence[Split(regex), ByteLevel],
// ChatML and vision added tokens) over a 256-byte vocabulary plus a few merges; the bad_*
// files each break one thing that the loader must report by file and key.
'use strict';
const fs = require('fs');
const path = require('path');

const dir = path.join(__dirname, '..', 'fixtures', 'tokenizer');

// GPT-2's bytes_to_unicode.
function byteAlphabet() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map = {};
  let n = 0;
  for (let b = 0; b < 256; b++) {
    map[b] = String.fromCodePoint(bs.includes(b) ? b : 256 + n++);
  }
  return map;
}
const alpha = byteAlphabet();
const enc = (s) => Array.from(Buffer.from(s, 'utf-8')).map((b) => alpha[b]).join('');

// Merges, best first; each merged token gets the next id.
const mergeWords = [
  ['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o'], [enc(' '), 'w'], ['o', 'r'],
  [enc(' ') + 'w', 'or'], ['l', 'd'], [enc(' ') + 'wor', 'ld'], [enc(' '), 't'], ['t', 'he'],
  [enc(' ') + 't', 'he'], ['i', 'n'], [enc(' '), 'in'],
  // 你 = E4 BD A0, é = C3 A9
  [enc('你').slice(0, 1), enc('你').slice(1, 2)], [enc('你').slice(0, 2), enc('你').slice(2)],
  [enc('é').slice(0, 1), enc('é').slice(1)],
  [enc('\n'), enc('\n')],
];

function tinyQwen2({mergesAsArrays = false} = {}) {
  const vocab = {};
  for (let b = 0; b < 256; b++) vocab[alpha[b]] = b;
  let next = 256;
  for (const [a, b] of mergeWords) {
    if (!(a in vocab) || !(b in vocab)) throw new Error(`bad merge ${a} ${b}`);
    vocab[a + b] = next++;
  }
  const added = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|vision_start|>',
                 '<|vision_end|>', '<|image_pad|>'].map((content, i) => ({
    id: next + i, content, single_word: false, lstrip: false, rstrip: false,
    normalized: false, special: true,
  }));
  // One non-special added token: always matched, kept by decode(skip_special).
  added.push({id: next + added.length, content: '<think>', single_word: false, lstrip: false,
              rstrip: false, normalized: false, special: false});
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {type: 'NFC'},
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {type: 'Split',
         pattern: {Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
         behavior: 'Isolated', invert: false},
        {type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false},
      ],
    },
    post_processor: {type: 'ByteLevel', add_prefix_space: false, trim_offsets: false,
                     use_regex: false},
    decoder: {type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false},
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
      end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab,
      merges: mergeWords.map(([a, b]) => (mergesAsArrays ? [a, b] : `${a} ${b}`)),
    },
  };
}

function write(name, obj) {
  fs.writeFileSync(path.join(dir, name),
                   typeof obj === 'string' ? obj : JSON.stringify(obj, null, 1) + '\n');
}

fs.mkdirSync(dir, {recursive: true});
write('tiny_qwen2.json', tinyQwen2());
write('tiny_qwen2_array_merges.json', tinyQwen2({mergesAsArrays: true}));

// GPT-2 style ByteLevel pre-tokenizer (use_regex) and no normalizer.
const gpt2Style = tinyQwen2();
gpt2Style.normalizer = null;
gpt2Style.pre_tokenizer = {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true,
                           use_regex: true};
gpt2Style.added_tokens = gpt2Style.added_tokens.slice(0, 1);
write('tiny_gpt2_style.json', gpt2Style);

// The same as vocab.json + merges.txt.
const vocabOnly = {};
for (const [k, v] of Object.entries(gpt2Style.model.vocab)) vocabOnly[k] = v;
vocabOnly['<|endoftext|>'] = gpt2Style.added_tokens[0].id;
write('tiny_vocab.json', JSON.stringify(vocabOnly) + '\n');
write('tiny_merges.txt', '#version: 0.2\n' + gpt2Style.model.merges.join('\n') + '\n');
write('bad_merges.txt', '#version: 0.2\nh e\nthis line has three\n');

// Added tokens that swallow white space on their left (<L>), right (<R>) or both (<B>).
const strip = tinyQwen2();
let stripId = strip.added_tokens[strip.added_tokens.length - 1].id + 1;
for (const [content, lstrip, rstrip] of [['<L>', true, false], ['<R>', false, true],
                                         ['<B>', true, true]]) {
  strip.added_tokens.push({id: stripId++, content, single_word: false, lstrip, rstrip,
                           normalized: false, special: true});
}
write('tiny_strip.json', strip);

// ByteLevel options: a leading space added to each stretch of text, with and without regex.
const prefix = tinyQwen2();
prefix.normalizer = null;
prefix.pre_tokenizer = {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true,
                        use_regex: true};
write('tiny_prefix_space.json', prefix);
const noRegex = tinyQwen2();
noRegex.pre_tokenizer = {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true,
                         use_regex: false};
write('tiny_no_regex.json', noRegex);

// Llama 3's ignore_merges: a pre-token found whole in the vocabulary is one token even where
// the merges would not build it (" thin" and "hello world" here).
const ignore = tinyQwen2();
ignore.model.ignore_merges = true;
const firstAdded = ignore.added_tokens[0].id;
for (const a of ignore.added_tokens) a.id += 2;
ignore.model.vocab[enc(' thin')] = firstAdded;
ignore.model.vocab[enc('wor')] = firstAdded + 1;
write('tiny_ignore_merges.json', ignore);

const bad = (mutate) => {
  const t = tinyQwen2();
  mutate(t);
  return t;
};
write('bad_model_wordpiece.json', bad((t) => { t.model.type = 'WordPiece'; }));
write('bad_model_unigram.json', bad((t) => { t.model.type = 'Unigram'; }));
write('bad_normalizer.json', bad((t) => { t.normalizer = {type: 'Lowercase'}; }));
write('bad_missing_vocab.json', bad((t) => { delete t.model.vocab; }));
write('bad_missing_merges.json', bad((t) => { delete t.model.merges; }));
write('bad_unknown_merge.json', bad((t) => { t.model.merges.push('zzz# q'); }));
write('bad_pre_tokenizer.json', bad((t) => {
  t.pre_tokenizer = {type: 'Sequence', pretokenizers: [{type: 'Digits', individual_digits: true},
                                                      {type: 'ByteLevel', use_regex: false}]};
}));
write('bad_prefix_after_split.json', bad((t) => {
  t.pre_tokenizer.pretokenizers[1].add_prefix_space = true;
}));
write('bad_merge_entry.json', bad((t) => { t.model.merges[3] = 42; }));
const malformed = JSON.stringify(tinyQwen2(), null, 1);
write('bad_malformed.json', malformed.slice(0, 2000) + '\n');
