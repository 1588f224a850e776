#include "ril/roles/train_job.h"

#include "ril/common/error.h"

namespace ril::roles {

void run_train_job(const dist::RankGroups&, const Config&) { throw Error("ril train: not built yet"); }

}  // namespace ril::roles
