#include "ril/roles/teacher.h"

#include <random>

#include "ril/common/seed.h"
#include "ril/dist/sharding.h"
#include "ril/io/teacher_cache.h"

namespace ril::roles {

Teacher::Teacher(const text::BpeTokenizer& tokenizer, TeacherOptions options)
    : tokenizer_(tokenizer), options_(std::move(options)) {
  const io::TeacherCache cache = io::TeacherCache::open(options_.cache_path);
  for (const std::string& name : options_.teachers) {
    std::map<int64_t, std::vector<std::string>> by_question;
    for (io::TeacherRow& row : cache.rows(name)) by_question[row.question_id].push_back(std::move(row.response));
    rows_.push_back(std::move(by_question));
  }
}

Responses Teacher::pick(int64_t step, const std::vector<int64_t>& questions, const dist::Communicator& group) const {
  Responses out;
  const int64_t k = static_cast<int64_t>(rows_.size());
  for (size_t j = 0; j < questions.size(); ++j) {
    if (!dist::owns(static_cast<int64_t>(j), group)) continue;
    const int64_t q = questions[j];
    for (int64_t t = 0; t < k; ++t) {
      const std::vector<std::string>& pool = rows_[static_cast<size_t>(t)].at(q);
      std::vector<size_t> order(pool.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::mt19937_64 rng(step_question_seed(options_.seed, step, q, kTeacherStream + 16 * static_cast<uint64_t>(t)));
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
      int64_t used = 0;
      for (int64_t s = t; s < options_.group; s += k) {
        Response r;
        r.question = q;
        r.sample = static_cast<int32_t>(s);
        r.source = static_cast<int32_t>(t);
        r.text = pool[order[static_cast<size_t>(used++) % order.size()]];
        fit_to_budget(r, tokenizer_, options_.budget);
        out.push_back(std::move(r));
      }
    }
  }
  return out;
}

}  // namespace ril::roles
