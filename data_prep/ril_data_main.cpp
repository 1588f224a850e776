// ril-data: builds and inspects dataset files.
//   ril-data synth     --out FILE [--seed S] [--train N --val N --test N] [difficulty knobs]
//   ril-data import    --input FILE.jsonl --out FILE [--image-root DIR] [--on-error skip|fail]
//   ril-data tokenizer --dataset FILE --out tokenizer.json [--vocab-size N]
//   ril-data show      FILE [--n 16] --out grid.png
//   ril-data info      FILE [--tokenizer tokenizer.json]
//   ril-data judge-set --dataset FILE [--teacher-cache FILE] --out FILE [--per-question K]
// Exit status: 0 ok, 1 runtime failure (bad file, bad record with --on-error fail), 2 bad usage.
#include <boost/program_options.hpp>

#include <array>
#include <cstdio>
#include <map>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ril/algo/judge_examples.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/paths.h"
#include "ril/data/bpe_trainer.h"
#include "ril/data/contact_sheet.h"
#include "ril/data/dataset.h"
#include "ril/data/dataset_summary.h"
#include "ril/data/image_codec.h"
#include "ril/data/llava_importer.h"
#include "ril/data/synth_generator.h"
#include "ril/io/teacher_cache.h"

namespace po = boost::program_options;
using namespace ril::data;

namespace {

constexpr const char* kUsage =
    "usage: ril-data <command> [options]\n"
    "commands:\n"
    "  synth      generate a synthetic visual QA dataset\n"
    "  import     import LLaVA-style JSON/JSONL + images into a dataset\n"
    "  tokenizer  train a byte-level BPE tokenizer.json on a dataset's text\n"
    "  show       write a PNG contact sheet of examples\n"
    "  info       print a summary of a dataset file\n"
    "  judge-set  write judge training examples (judge prompt -> explanation + verdict) of a dataset\n"
    "`ril-data <command> --help` lists the options of a command.\n";

// Parses `args` against `options` (+ positional names); prints help and returns false when
// --help is given.
bool parse(const std::string& command, const std::vector<std::string>& args, po::options_description& options,
           const po::positional_options_description& positional, po::variables_map& vm, const char* synopsis) {
  options.add_options()("help,h", "show this help");
  po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: ril-data " << command << " " << synopsis << "\n" << options << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

int run_synth(const std::vector<std::string>& args) {
  SynthOptions o;
  std::string families;
  po::options_description desc("synth options");
  desc.add_options()
      ("out,o", po::value(&o.output)->required(), "output dataset file (.h5)")
      ("seed", po::value(&o.seed)->default_value(o.seed), "generator seed (splits use disjoint streams)")
      ("image-size", po::value(&o.image_size)->default_value(o.image_size), "image height and width in pixels")
      ("train", po::value(&o.n_train)->default_value(o.n_train), "train examples")
      ("val", po::value(&o.n_val)->default_value(o.n_val), "val examples")
      ("test", po::value(&o.n_test)->default_value(o.n_test), "test examples")
      ("families", po::value(&families)->default_value("counting,attribute,spatial,comparison,arithmetic"),
       "comma-separated task families")
      ("min-objects", po::value(&o.difficulty.min_objects)->default_value(o.difficulty.min_objects),
       "fewest shapes per scene")
      ("max-objects", po::value(&o.difficulty.max_objects)->default_value(o.difficulty.max_objects),
       "most shapes per scene")
      ("max-count", po::value(&o.difficulty.max_count)->default_value(o.difficulty.max_count),
       "largest count asked for (counting, comparison)")
      ("max-digits", po::value(&o.difficulty.max_digits)->default_value(o.difficulty.max_digits),
       "digits per arithmetic image: up to 2 or 3")
      ("digit-distractors", po::value(&o.difficulty.digit_distractors)->default_value(o.difficulty.digit_distractors),
       "up to this many shapes beside the digits")
      ("colour-jitter", po::value(&o.difficulty.colour_jitter)->default_value(o.difficulty.colour_jitter),
       "per-object colour perturbation (+- per channel)")
      ("noise", po::value(&o.difficulty.noise)->default_value(o.difficulty.noise),
       "per-pixel uniform noise amplitude")
      ("colours", po::value(&o.difficulty.colours)->default_value(o.difficulty.colours),
       "the first N colours of red, green, blue, yellow, purple, orange")
      ("shapes", po::value(&o.difficulty.shapes)->default_value(o.difficulty.shapes),
       "the first N shapes of circle, square, triangle, diamond (at least 3)")
      ("grid", po::value(&o.difficulty.grid)->default_value(o.difficulty.grid),
       "N > 0: an N x N board, one object filling each used cell (pair with a vision patch of the cell size); "
       "0: objects anywhere")
      ("overwrite", po::bool_switch(&o.overwrite), "replace an existing output file");
  po::variables_map vm;
  if (!parse("synth", args, desc, {}, vm, "--out FILE [options]")) return 0;
  o.families.clear();
  for (const std::string& name : split_names(families)) o.families.push_back(parse_family(name));
  write_synthetic_dataset(o);
  return 0;
}

int run_import(const std::vector<std::string>& args) {
  ImportOptions o;
  std::string on_error = "skip", resize = "pad";
  po::options_description desc("import options");
  desc.add_options()
      ("input,i", po::value(&o.input)->required(), "LLaVA-style .json (array) or .jsonl file")
      ("out,o", po::value(&o.output)->required(), "output dataset file (.h5)")
      ("image-root", po::value(&o.image_root), "directory the image paths are relative to (default: the input's)")
      ("image-size", po::value(&o.image_size)->default_value(o.image_size), "target image height and width")
      ("resize", po::value(&resize)->default_value(resize), "pad (keep aspect, black borders) or stretch")
      ("on-error", po::value(&on_error)->default_value(on_error), "skip or fail on a bad record")
      ("family", po::value(&o.family)->default_value(o.family), "family tag for records without one")
      ("val-fraction", po::value(&o.val_fraction)->default_value(o.val_fraction), "val share of records without a split")
      ("test-fraction", po::value(&o.test_fraction)->default_value(o.test_fraction),
       "test share of records without a split")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the split assignment")
      ("overwrite", po::bool_switch(&o.overwrite), "replace an existing output file");
  po::variables_map vm;
  if (!parse("import", args, desc, {}, vm, "--input FILE --out FILE [options]")) return 0;
  o.on_error = parse_on_error(on_error);
  o.resize = parse_resize_mode(resize);
  const ImportReport report = import_llava(o);
  std::cout << report.summary();
  return 0;
}

int run_tokenizer(const std::vector<std::string>& args) {
  BpeTrainerOptions o;
  std::string dataset_path, out, splits, styles;
  po::options_description desc("tokenizer options");
  desc.add_options()
      ("dataset,d", po::value(&dataset_path)->required(), "dataset file whose text to train on")
      ("out,o", po::value(&out)->required(), "output tokenizer.json")
      ("vocab-size", po::value(&o.vocab_size)->default_value(o.vocab_size),
       "total vocabulary: 256 bytes + merges + special tokens")
      ("min-frequency", po::value(&o.min_frequency)->default_value(o.min_frequency), "least count of a merged pair")
      ("splits", po::value(&splits)->default_value("train"), "comma-separated splits to read, or 'all'")
      ("styles", po::value(&styles)->default_value("all"),
       "comma-separated rationale styles to read, or 'all' (the merges, and so the token ids, depend on the text)");
  po::variables_map vm;
  if (!parse("tokenizer", args, desc, {}, vm, "--dataset FILE --out tokenizer.json [options]")) return 0;
  std::vector<Split> chosen;
  if (splits != "all") {
    for (const std::string& s : split_names(splits)) chosen.push_back(parse_split(s));
  }
  const Dataset dataset = Dataset::open(dataset_path);
  const std::vector<std::string> texts =
      dataset_texts(dataset, chosen, styles == "all" ? std::vector<std::string>{} : split_names(styles));
  const ril::text::BpeTokenizer tokenizer = ril::text::BpeTokenizer::from_spec(train_bpe(texts, o), "trainer");
  tokenizer.save_tokenizer_json(out);
  ril::log_info("data", "trained a ", tokenizer.vocab_size(), "-token tokenizer on ", texts.size(), " texts from ",
                dataset_path, "; wrote ", out);
  return 0;
}

int run_show(const std::vector<std::string>& args) {
  ContactSheetOptions o;
  std::string path, out;
  po::options_description desc("show options");
  desc.add_options()
      ("file", po::value(&path)->required(), "dataset file")
      ("out,o", po::value(&out)->required(), "output PNG")
      ("n", po::value(&o.count)->default_value(o.count), "examples to show")
      ("start", po::value(&o.start)->default_value(o.start), "first example (within --split)")
      ("split", po::value(&o.split), "train, val or test (default: all)")
      ("columns", po::value(&o.columns)->default_value(o.columns), "grid columns (0: square grid)")
      ("scale", po::value(&o.scale)->default_value(o.scale), "image enlargement")
      ("rationale", po::value(&o.rationale), "also print this rationale style (e.g. terse)");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse("show", args, desc, positional, vm, "FILE --out grid.png [options]")) return 0;
  const Dataset dataset = Dataset::open(path);
  write_png(render_contact_sheet(dataset, o), out);
  ril::log_info("data", "wrote a contact sheet of ", std::min<int64_t>(o.count, dataset.size()), " examples to ", out);
  return 0;
}

int run_info(const std::vector<std::string>& args) {
  SummaryOptions o;
  std::string path;
  po::options_description desc("info options");
  desc.add_options()
      ("file", po::value(&path)->required(), "dataset file")
      ("tokenizer", po::value(&o.tokenizer_path), "tokenizer.json: also give lengths in tokens");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse("info", args, desc, positional, vm, "FILE [--tokenizer tokenizer.json]")) return 0;
  const ril::io::H5File file = ril::io::H5File::open(path, kDatasetKind);
  std::cout << summarize_dataset(file, o);
  return 0;
}

// Judge training examples (algo/judge_examples.h) as a dataset file that `ril sft --style judge`
// trains a text-only judge on: question = the rendered judge prompt, answer = the rule checker's
// verdict ("1" or "0"), rationale style "judge" = explanation + <answer>v</answer>, family =
// "rule-correct" / "rule-wrong" (so `ril eval` on the file reports the judge's agreement per
// label), split = the source question's split, source = "<question id>:<variant>", 1x1 images
// (the judge reads no image).
int run_judge_set(const std::vector<std::string>& args) {
  std::string dataset_path, cache_path, prompt_path, out;
  ril::algo::JudgeExampleOptions o;
  po::options_description desc("judge-set options");
  desc.add_options()
      ("dataset", po::value(&dataset_path)->required(), "source dataset file (questions, answers, rationales)")
      ("teacher-cache", po::value(&cache_path), "teacher cache of the dataset: cached responses as candidates too")
      ("judge-prompt", po::value(&prompt_path), "judge prompt template file (default: the built-in one, as ril train --judge)")
      ("out,o", po::value(&out)->required(), "output dataset file (.h5)")
      ("per-question", po::value(&o.per_question)->default_value(o.per_question),
       "examples per source question (about half judged correct by the rule checker)")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the variant choices");
  po::variables_map vm;
  if (!parse("judge-set", args, desc, {}, vm, "--dataset FILE --out FILE [options]")) return 0;
  RIL_CONFIG_CHECK(ril::path_exists(dataset_path), "--dataset '", dataset_path, "' does not exist");
  RIL_CONFIG_CHECK(cache_path.empty() || ril::path_exists(cache_path), "--teacher-cache '", cache_path,
                   "' does not exist");
  RIL_CONFIG_CHECK(o.per_question >= 1, "--per-question must be >= 1, got ", o.per_question);
  const Dataset dataset = Dataset::open(dataset_path);
  std::map<int64_t, std::vector<std::string>> teacher_responses;
  if (!cache_path.empty()) {
    const ril::io::TeacherCache cache = ril::io::TeacherCache::open(cache_path);
    RIL_CONFIG_CHECK(ril::io::dataset_fingerprint(dataset_path).text == cache.dataset_fingerprint_text(),
                     "--teacher-cache ", cache_path, " was built for another dataset (", cache.dataset_path(),
                     ") than --dataset ", dataset_path);
    for (const std::string& teacher : cache.teachers()) {
      for (ril::io::TeacherRow& row : cache.rows(teacher)) {
        teacher_responses[row.question_id].push_back(std::move(row.response));
      }
    }
  }
  ril::algo::JudgePrompt prompt =
      prompt_path.empty() ? ril::algo::JudgePrompt() : ril::algo::JudgePrompt::from_file(prompt_path);
  const ril::algo::JudgeExampleMaker maker(dataset, std::move(teacher_responses), std::move(prompt), o);
  DatasetWriterOptions wo;
  wo.path = out;
  wo.image_height = 1;
  wo.image_width = 1;
  wo.rationale_styles = {"judge"};
  wo.generator = "judge-set";
  wo.with_source = true;
  wo.overwrite = true;
  DatasetWriter writer(wo);
  writer.declare_family("rule-correct");
  writer.declare_family("rule-wrong");
  std::map<std::string, std::array<int64_t, 2>> counts;  // split -> {wrong, correct}
  std::map<std::string, int64_t> variants;
  for (int64_t q = 0; q < dataset.size(); ++q) {
    for (ril::algo::JudgeExample& e : maker.make(q)) {
      Example x;
      x.image = Image(1, 1);
      x.question = std::move(e.prompt);
      x.answer = e.correct ? "1" : "0";
      x.rationales["judge"] = std::move(e.target);
      x.family = e.correct ? "rule-correct" : "rule-wrong";
      x.split = dataset.split(q);
      writer.add(x, ril::cat(q, ":", e.variant));
      counts[split_name(x.split)][e.correct ? 1 : 0] += 1;
      variants[ril::cat(e.variant, e.correct ? " (1)" : " (0)")] += 1;
    }
  }
  writer.set_attr("source_dataset", dataset_path);
  writer.set_attr("judge_prompt", prompt_path.empty() ? std::string("built-in") : prompt_path);
  writer.set_attr("seed", static_cast<int64_t>(o.seed));
  writer.finish();
  std::string by_split, by_variant;
  for (const auto& [split, c] : counts) by_split += ril::cat(by_split.empty() ? "" : ", ", split, " ", c[1], " correct / ", c[0], " wrong");
  for (const auto& [v, n] : variants) by_variant += ril::cat(by_variant.empty() ? "" : ", ", v, " ", n);
  ril::log_info("data", "wrote ", writer.count(), " judge examples to ", out, ": ", by_split, "; by variant (rule label): ",
                by_variant);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "synth") return run_synth(args);
    if (command == "import") return run_import(args);
    if (command == "tokenizer") return run_tokenizer(args);
    if (command == "show") return run_show(args);
    if (command == "info") return run_info(args);
    if (command == "judge-set") return run_judge_set(args);
    std::cerr << "ril-data: unknown command '" << command << "'\n" << kUsage;
    return 2;
  } catch (const po::error& e) {
    std::cerr << "ril-data " << command << ": " << e.what() << " (see ril-data " << command << " --help)\n";
    return 2;
  } catch (const ril::ConfigError& e) {
    std::cerr << "ril-data " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ril-data " << command << ": error: " << e.what() << "\n";
    return 1;
  }
}
