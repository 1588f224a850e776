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

// One response: generated alone, with its own generator.
std::string generate_one(LoadedTeacher& lt, const data::Dataset& dataset, int64_t question, uint64_t seed) {
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> ids = lt.prompts->prompt_ids(dataset.question(question));
  const int64_t p = static_cast<int64_t>(ids.size());
  torch::Tensor input_ids = torch::tensor(ids, torch::kInt64).view({1, p}).to(lt.device);
  torch::Tensor mask = torch::ones({1, p}, torch::kInt64).to(lt.device);
  model::ImageInputs images;
  if (lt.prompts->options().with_image) {
    images = lt.prompts->images(dataset, {question}).to(torch::TensorOptions().device(lt.device));
  }
  model::GenerationResult result =
      lt.model.generate(input_ids, mask, images, lt.options, model::make_cpu_generator(seed));
  const int64_t n = result.lengths.defined() ? result.lengths[0].item<int64_t>() : 0;
  torch::Tensor tokens = result.tokens.to(torch::kCPU);
  std::vector<int32_t> out;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = tokens[0][i].item<int64_t>();
    if (std::find(lt.options.stop_token_ids.begin(), lt.options.stop_token_ids.end(), id) !=
        lt.options.stop_token_ids.end()) {
      break;
    }
    out.push_back(static_cast<int32_t>(id));
  }
  // Ids the tokenizer does not know (model vocab padding) are dropped.
  out.erase(std::remove_if(out.begin(), out.end(), [&](int32_t id) { return id >= lt.tokenizer->vocab_size(); }),
            out.end());
  return lt.tokenizer->decode(out, /*skip_special=*/true);
}

// Finished responses of one rank as one host message (dist/byte_codec.h): count, then per row
// its question, sample and response text.
std::string encode_rows(const std::vector<io::TeacherRow>& rows) {
  dist::ByteWriter out;
  out.put<int64_t>(static_cast<int64_t>(rows.size()));
  for (const io::TeacherRow& r : rows) {
    out.put<int64_t>(r.question_id);
    out.put<int32_t>(r.sample_index);
    out.put_string(r.response);
  }
  return out.take();
}

void decode_rows(const std::string& bytes, std::vector<io::TeacherRow>& out) {
  dist::ByteReader in(bytes);
  const int64_t n = in.get<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    io::TeacherRow row;
    row.question_id = in.get<int64_t>();
    row.sample_index = in.get<int32_t>();
    row.response = in.get_string();
    out.push_back(std::move(row));
  }
  in.expect_done("teacher rows");
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
    const int64_t total = static_cast<int64_t>(work.size() / 2);
    if (total == 0) continue;
    std::vector<std::vector<std::pair<int64_t, int64_t>>> share(static_cast<size_t>(n_ranks));
    for (int64_t i = 0; i < total; ++i) {
      share[static_cast<size_t>(teacher_rank_for(work[2 * i], n_ranks))].emplace_back(work[2 * i], work[2 * i + 1]);
    }
    int64_t rounds = 0;
    for (const auto& s : share) rounds = std::max<int64_t>(rounds, (static_cast<int64_t>(s.size()) + t.batch - 1) / t.batch);
    const auto& mine = share[static_cast<size_t>(comm.rank())];
    LoadedTeacher lt;
    if (!mine.empty()) lt = load_teacher(teachers[k], t, dataset, groups.device());
    const Stopwatch clock;
    int64_t done = 0, responses = 0;
    for (int64_t r = 0; r < rounds; ++r) {
      std::vector<io::TeacherRow> rows;
      const size_t begin = static_cast<size_t>(r * t.batch);
      for (size_t i = begin; i < std::min(mine.size(), begin + static_cast<size_t>(t.batch)); ++i) {
        const auto [q, first] = mine[i];
        for (int64_t s = first; s < t.responses; ++s) {
          rows.push_back({q, static_cast<int32_t>(s),
                          generate_one(lt, dataset, q, response_seed(config.common.seed, name, q, s))});
        }
      }
      const std::vector<std::string> parts = dist::gather_bytes(comm, encode_rows(rows), 0);
      if (!writer) continue;
      std::vector<io::TeacherRow> all;
      for (const std::string& part : parts) decode_rows(part, all);
      std::sort(all.begin(), all.end(), [](const io::TeacherRow& a, const io::TeacherRow& b) {
        return std::tie(a.question_id, a.sample_index) < std::tie(b.question_id, b.sample_index);
      });
      int64_t questions_in_round = 0;
      for (size_t i = 0; i < all.size(); ++i) questions_in_round += i == 0 || all[i].question_id != all[i - 1].question_id;
      const int64_t committed = cache->append(name, all);
      done += questions_in_round;
      responses += static_cast<int64_t>(all.size());
      const double secs = clock.seconds();
      const double rate = secs > 0 ? static_cast<double>(responses) / secs : 0.0;
      const double eta = done > 0 ? secs * static_cast<double>(total - done) / static_cast<double>(done) : -1.0;
      log_info(kTag, "teacher '", name, "': ", done, "/", total, " questions, ", responses, " responses (",
               committed, " committed), ", cat(static_cast<int64_t>(rate * 10) / 10.0), " responses/s, ETA ",
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
