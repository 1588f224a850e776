#include "ril/jobs/teach_job.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <tuple>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/seed.h"
#include "ril/common/stopwatch.h"
#include "ril/data/dataset.h"
#include "ril/dist/byte_codec.h"
#include "ril/dist/host_messages.h"
#include "ril/dist/sharding.h"
#include "ril/io/teacher_cache.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/model/sampler.h"
#include "ril/roles/generation_budget.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::jobs {
namespace {

constexpr const char* kTag = "teach";

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct TeacherSpec {
  std::string name, dir;
};

std::vector<TeacherSpec> parse_teachers(const std::vector<std::string>& specs) {
  std::vector<TeacherSpec> out;
  for (const std::string& s : specs) {
    const size_t eq = s.find('=');
    out.push_back({s.substr(0, eq), s.substr(eq + 1)});
  }
  return out;
}

std::string cache_path(const Config& config) {
  if (!config.teach.out.empty()) return config.teach.out;
  std::filesystem::create_directories(config.common.run_dir);
  return (std::filesystem::path(config.common.run_dir) / "teacher_cache.h5").string();
}

std::vector<int64_t> split_questions(const data::Dataset& dataset, const TeachConfig& t) {
  std::vector<int64_t> ids = dataset.indices(data::parse_split(t.split));
  if (t.limit > 0 && static_cast<int64_t>(ids.size()) > t.limit) ids.resize(static_cast<size_t>(t.limit));
  return ids;
}

// A loaded teacher: model, tokenizer, prompts (the student's layout, with the teacher's family's
// image placeholders and markers: roles/sft_batch.h).
struct LoadedTeacher {
  model::PretrainedModel model;
  std::unique_ptr<text::BpeTokenizer> tokenizer;
  std::unique_ptr<roles::SftBatchBuilder> prompts;
  model::GenerationOptions options;
  at::Device device = at::kCPU;
};

LoadedTeacher load_teacher(const TeacherSpec& spec, const TeachConfig& t, const data::Dataset& dataset,
                           at::Device device) {
  LoadedTeacher lt;
  lt.model = model::load_pretrained(spec.dir);
  lt.device = device;
  lt.model.module().to(device);
  lt.model.module().eval();
  const std::string tok_path = (std::filesystem::path(spec.dir) / "tokenizer.json").string();
  lt.tokenizer = std::make_unique<text::BpeTokenizer>(text::BpeTokenizer::from_tokenizer_json(tok_path));
  const int64_t vocab = lt.model.config.text().vocab_size;
  RIL_CHECK(lt.tokenizer->vocab_size() <= vocab, "teacher '", spec.name, "': tokenizer '", tok_path, "' has ",
            lt.tokenizer->vocab_size(), " tokens but the model in '", spec.dir, "' only ", vocab,
            " (vocab_size): they do not belong together");
  const std::string who = cat("teacher '", spec.name, "' (", spec.dir, ")");
  roles::check_image_token(lt.model.config, *lt.tokenizer, who);
  lt.prompts = std::make_unique<roles::SftBatchBuilder>(
      *lt.tokenizer, roles::model_batch_options(lt.model.config, dataset.image_height(), dataset.image_width()));
  lt.options.max_new_tokens = t.max_new_tokens;
  lt.options.sampling.do_sample = true;
  lt.options.sampling.temperature = t.temperature;
  lt.options.sampling.top_p = t.top_p;
  lt.options.sampling.top_k = t.top_k;
  lt.options.sampling.repetition_penalty = t.repetition_penalty;
  lt.options.sampling.validate();
  const auto& special = lt.tokenizer->special_ids();
  if (special.eos) lt.options.stop_token_ids.push_back(*special.eos);
  if (special.im_end && special.im_end != special.eos) lt.options.stop_token_ids.push_back(*special.im_end);
  for (int64_t e : lt.model.config.text().eos_token_ids) {
    if (std::find(lt.options.stop_token_ids.begin(), lt.options.stop_token_ids.end(), e) ==
        lt.options.stop_token_ids.end()) {
      lt.options.stop_token_ids.push_back(e);
    }
  }
  lt.options.pad_token_id = special.pad ? *special.pad : 0;
  return lt;
}

// Each teacher's prompts (its family's layout) + --max-new-tokens must fit its positions; checked
// on every rank from the config and tokenizer alone, before the cache is opened or a model
// loaded (as ril train and ril eval check theirs). A teacher whose config, tokenizer or image
// layout cannot be read is left to the checks that load it.
void check_teach_budgets(const std::vector<TeacherSpec>& teachers, const TeachConfig& t,
                         const data::Dataset& dataset, const std::vector<int64_t>& questions) {
  for (const TeacherSpec& spec : teachers) {
    roles::GenerationBudget budget;
    budget.option = "--max-new-tokens";
    budget.max_new_tokens = t.max_new_tokens;
    budget.model = cat("teacher '", spec.name, "' (", spec.dir, ")");
    int64_t longest = 0;
    try {
      const model::ModelConfig config = model::load_model_config(spec.dir);
      budget.max_positions = config.text().max_position_embeddings;
      const text::BpeTokenizer tokenizer =
          text::BpeTokenizer::from_tokenizer_json((std::filesystem::path(spec.dir) / "tokenizer.json").string());
      const roles::SftBatchBuilder prompts(
          tokenizer, roles::model_batch_options(config, dataset.image_height(), dataset.image_width()));
      longest = roles::longest_prompt(prompts, dataset, questions);
    } catch (const std::exception&) {
      continue;
    }
    try {
      roles::check_generation_budget(budget, longest);
    } catch (const ConfigError& e) {
      throw ConfigError(cat("ril teach: ", e.what()));
    }
  }
}

// One row of a teacher's work: response `sample` to `question`, sampled from its own CPU
// generator seeded with `seed` (response_seed), whatever rows it is batched with.
struct ResponseTask {
  int64_t question = 0;
  int32_t sample = 0;
  uint64_t seed = 0;
};

// The responses of a batch of rows, in row order: one generate() over the left-padded prompts,
// one generator per row (so row i draws what it would draw alone), each row ending at its own stop
// token. `tokens` grows by the tokens generated (stop tokens included), for throughput.
std::vector<std::string> generate_rows(LoadedTeacher& lt, const data::Dataset& dataset,
                                       const std::vector<ResponseTask>& rows, int64_t& tokens) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> questions;
  std::vector<at::Generator> generators;
  for (const ResponseTask& row : rows) {
    questions.push_back(row.question);
    generators.push_back(model::make_cpu_generator(row.seed));
  }
  const roles::SftBatch batch =
      lt.prompts->build_with_responses(dataset, questions, std::vector<std::vector<int64_t>>(rows.size()));
  model::ImageInputs images;
  if (batch.images.defined()) images = batch.images.to(torch::TensorOptions().device(lt.device));
  const model::GenerationResult result =
      lt.model.generate(batch.prompt_ids.to(lt.device), batch.prompt_mask.to(lt.device), images, lt.options,
                        model::SamplingGenerators(std::move(generators)));
  const torch::Tensor ids = result.tokens.to(torch::kCPU).contiguous();  // [B, N]
  const torch::Tensor lengths = result.lengths.to(torch::kCPU);         // [B]
  const auto id = ids.accessor<int64_t, 2>();
  const auto length = lengths.accessor<int64_t, 1>();
  const std::vector<int64_t>& stops = lt.options.stop_token_ids;
  std::vector<std::string> texts;
  for (int64_t i = 0; i < static_cast<int64_t>(rows.size()); ++i) {
    tokens += length[i];
    std::vector<int32_t> out;
    for (int64_t k = 0; k < length[i]; ++k) {
      if (std::find(stops.begin(), stops.end(), id[i][k]) != stops.end()) break;
      // Ids the tokenizer does not know (model vocab padding) are dropped.
      if (id[i][k] < lt.tokenizer->vocab_size()) out.push_back(static_cast<int32_t>(id[i][k]));
    }
    texts.push_back(lt.tokenizer->decode(out, /*skip_special=*/true));
  }
  return texts;
}

// Finished responses of one rank as one host message (dist/byte_codec.h): generated tokens, count,
// then per row its question, sample and response text.
std::string encode_rows(const std::vector<io::TeacherRow>& rows, int64_t tokens) {
  dist::ByteWriter out;
  out.put<int64_t>(tokens);
  out.put<int64_t>(static_cast<int64_t>(rows.size()));
  for (const io::TeacherRow& r : rows) {
    out.put<int64_t>(r.question_id);
    out.put<int32_t>(r.sample_index);
    out.put_string(r.response);
  }
  return out.take();
}

// Appends the rows of one message to `out`; returns its generated tokens.
int64_t decode_rows(const std::string& bytes, std::vector<io::TeacherRow>& out) {
  dist::ByteReader in(bytes);
  const int64_t tokens = in.get<int64_t>();
  const int64_t n = in.get<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    io::TeacherRow row;
    row.question_id = in.get<int64_t>();
    row.sample_index = in.get<int32_t>();
    row.response = in.get_string();
    out.push_back(std::move(row));
  }
  in.expect_done("teacher rows");
  return tokens;
}

// The settings every teacher of this run shares (sampling, split); the caller adds who it is.
io::TeacherInfo shared_teacher_info(const Config& config, size_t question_count) {
  const TeachConfig& t = config.teach;
  io::TeacherInfo info;
  info.temperature = t.temperature;
  info.top_p = t.top_p;
  info.top_k = t.top_k;
  info.repetition_penalty = t.repetition_penalty;
  info.max_new_tokens = t.max_new_tokens;
  info.seed = static_cast<int64_t>(config.common.seed);
  info.responses_per_question = t.responses;
  info.split = t.split;
  info.split_questions = static_cast<int64_t>(question_count);
  return info;
}

void run_import(const Config& config, const data::Dataset& dataset, const std::vector<int64_t>& questions) {
  const TeachConfig& t = config.teach;
  const std::string out = cache_path(config);
  io::TeacherCache cache = io::TeacherCache::open_for_dataset(out, t.dataset);
  io::TeacherInfo info = shared_teacher_info(config, questions.size());
  info.name = t.teacher_name;
  info.model_path = t.import_jsonl;
  info.model_type = "import";
  info.source = "import";
  cache.add_teacher(info);
  (void)dataset;
  const io::ImportReport report = cache.import_jsonl(t.import_jsonl, t.teacher_name);
  for (const std::string& e : report.errors) log_warn(kTag, "bad line: ", e);
  const io::Coverage cov = cache.coverage(t.teacher_name, questions);
  log_info(kTag, "imported ", report.imported, " of ", report.lines, " line(s) from '", t.import_jsonl,
           "' as teacher '", t.teacher_name, "' into '", out, "' (", report.duplicates, " already there, ",
           report.errors.size(), " bad); coverage ", cov.complete, "/", cov.total, " questions with ", t.responses,
           " responses");
}

}  // namespace

int teacher_rank_for(int64_t question_id, int teacher_ranks) { return dist::owner_of(question_id, teacher_ranks); }

uint64_t response_seed(uint64_t seed, const std::string& teacher, int64_t question_id, int64_t sample_index) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ fnv1a(teacher));
  h = splitmix64(h ^ static_cast<uint64_t>(question_id));
  h = splitmix64(h ^ (static_cast<uint64_t>(sample_index) * 0x2545f4914f6cdd1dULL));
  return h >> 1;  // keep it positive for generators that take int64
}

void run_teach_job(const dist::RankGroups& groups, const Config& config) {
  if (!groups.has(dist::Role::kTeacher)) return;
  dist::Communicator& comm = *groups.group(dist::Role::kTeacher);
  const bool writer = comm.rank() == 0;
  const int n_ranks = comm.size();
  const TeachConfig& t = config.teach;
  const data::Dataset dataset = data::Dataset::open(t.dataset);
  const std::vector<int64_t> questions = split_questions(dataset, t);

  if (!t.import_jsonl.empty()) {
    if (writer) run_import(config, dataset, questions);
    return;
  }

  const std::vector<TeacherSpec> teachers = parse_teachers(t.teachers);
  check_teach_budgets(teachers, t, dataset, questions);
  std::unique_ptr<io::TeacherCache> cache;
  std::string out;
  // Per teacher, missing work as (question, first missing sample) pairs, flattened.
  std::vector<std::vector<int64_t>> pending(teachers.size());
  if (writer) {
    out = cache_path(config);
    cache = std::make_unique<io::TeacherCache>(io::TeacherCache::open_for_dataset(out, t.dataset));
    for (size_t k = 0; k < teachers.size(); ++k) {
      const model::ModelConfig mc = model::load_model_config(teachers[k].dir);
      io::TeacherInfo info = shared_teacher_info(config, questions.size());
      info.name = teachers[k].name;
      info.model_path = teachers[k].dir;
      info.model_type = model::model_kind_name(mc.kind);
      info.tokenizer_path = (std::filesystem::path(teachers[k].dir) / "tokenizer.json").string();
      cache->add_teacher(info);
      const auto counts = cache->response_counts(info.name);
      for (int64_t q : questions) {
        auto it = counts.find(q);
        const int64_t have = it == counts.end() ? 0 : it->second;
        if (have < t.responses) {
          pending[k].push_back(q);
          pending[k].push_back(have);
        }
      }
      log_info(kTag, "teacher '", info.name, "' (", info.model_type, ", '", info.model_path, "'): ",
               static_cast<int64_t>(questions.size()) - static_cast<int64_t>(pending[k].size() / 2), "/",
               questions.size(), " questions already complete in '", out, "'; ", pending[k].size() / 2,
               " to do on ", n_ranks, " teacher rank(s)");
    }
  }
  for (auto& p : pending) p = dist::broadcast_vector(comm, p, 0);

  for (size_t k = 0; k < teachers.size(); ++k) {
    const std::string& name = teachers[k].name;
    const std::vector<int64_t>& work = pending[k];
    if (work.empty()) continue;
    // Every rank's rows in order: each of its pending questions' missing samples, consecutively,
    // so that a commit leaves every question with a prefix of its samples (what resume assumes).
    std::vector<std::vector<ResponseTask>> share(static_cast<size_t>(n_ranks));
    int64_t total_questions = 0, total_rows = 0;
    for (size_t i = 0; i < work.size(); i += 2) {
      const int64_t q = work[i];
      auto& rows = share[static_cast<size_t>(teacher_rank_for(q, n_ranks))];
      for (int64_t s = work[i + 1]; s < t.responses; ++s) {
        rows.push_back({q, static_cast<int32_t>(s), response_seed(config.common.seed, name, q, s)});
      }
      total_questions += 1;
      total_rows += t.responses - work[i + 1];
    }
    int64_t rounds = 0;
    for (const auto& s : share) rounds = std::max<int64_t>(rounds, (static_cast<int64_t>(s.size()) + t.batch - 1) / t.batch);
    const std::vector<ResponseTask>& mine = share[static_cast<size_t>(comm.rank())];
    LoadedTeacher lt;
    if (!mine.empty()) lt = load_teacher(teachers[k], t, dataset, groups.device());
    const Stopwatch clock;
    int64_t done = 0, responses = 0, tokens = 0;
    for (int64_t r = 0; r < rounds; ++r) {
      // Round r: rows [r * batch, (r + 1) * batch) of every rank, generated as one batch.
      const size_t begin = std::min(mine.size(), static_cast<size_t>(r * t.batch));
      const size_t end = std::min(mine.size(), begin + static_cast<size_t>(t.batch));
      const std::vector<ResponseTask> batch(mine.begin() + static_cast<std::ptrdiff_t>(begin),
                                            mine.begin() + static_cast<std::ptrdiff_t>(end));
      int64_t batch_tokens = 0;
      std::vector<io::TeacherRow> rows;
      if (!batch.empty()) {
        std::vector<std::string> texts = generate_rows(lt, dataset, batch, batch_tokens);
        for (size_t i = 0; i < batch.size(); ++i) rows.push_back({batch[i].question, batch[i].sample, std::move(texts[i])});
      }
      const std::vector<std::string> parts = dist::gather_bytes(comm, encode_rows(rows, batch_tokens), 0);
      if (!writer) continue;
      std::vector<io::TeacherRow> all;
      for (const std::string& part : parts) tokens += decode_rows(part, all);
      std::sort(all.begin(), all.end(), [](const io::TeacherRow& a, const io::TeacherRow& b) {
        return std::tie(a.question_id, a.sample_index) < std::tie(b.question_id, b.sample_index);
      });
      const int64_t committed = cache->append(name, all);
      // A question is done once its last sample is committed (its samples are committed in order).
      for (const io::TeacherRow& row : all) done += row.sample_index == t.responses - 1;
      responses += static_cast<int64_t>(all.size());
      const double secs = clock.seconds();
      const double rate = secs > 0 ? static_cast<double>(responses) / secs : 0.0;
      const double token_rate = secs > 0 ? static_cast<double>(tokens) / secs : 0.0;
      const double eta =
          responses > 0 ? secs * static_cast<double>(total_rows - responses) / static_cast<double>(responses) : -1.0;
      log_info(kTag, "teacher '", name, "': ", done, "/", total_questions, " questions, ", responses, "/", total_rows,
               " responses (", committed, " committed), ", tokens, " tokens, ", cat(static_cast<int64_t>(token_rate * 10) / 10.0),
               " tokens/s, ", cat(static_cast<int64_t>(rate * 10) / 10.0), " responses/s, ETA ",
               eta >= 0 ? duration_text(eta) : std::string("?"));
    }
  }
  if (writer) {
    for (const TeacherSpec& spec : teachers) {
      const io::Coverage cov = cache->coverage(spec.name, questions);
      log_info(kTag, "teacher '", spec.name, "': coverage ", cov.complete, "/", cov.total, " questions of split ",
               t.split, " with ", t.responses, " responses, ", cov.rows, " committed rows in '", out, "'");
    }
  }
}

}  // namespace ril::jobs
