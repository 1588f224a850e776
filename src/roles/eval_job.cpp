#include "ril/roles/eval_job.h"

#include "ril/common/error.h"

namespace ril::roles {

void run_eval_job(const dist::RankGroups&, const Config&) { throw Error("ril eval: not built yet"); }

}  // namespace ril::roles
