#include "ril/roles/plot_job.h"

#include "ril/common/error.h"

namespace ril::roles {

void run_plot_job(const dist::RankGroups&, const Config&) { throw Error("ril plot: not built yet"); }

}  // namespace ril::roles
