#include "ril/common/error.h"

namespace ril {
namespace {
int g_error_rank = -1;
}
int error_rank() { return g_error_rank; }
void set_error_rank(int rank) { g_error_rank = rank; }
}  // namespace ril
