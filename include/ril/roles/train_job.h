// `ril train` (stub: being written).
#pragma once

#include "ril/common/config.h"
#include "ril/dist/rank_groups.h"

namespace ril::roles {

void run_train_job(const dist::RankGroups& groups, const Config& config);

}  // namespace ril::roles
