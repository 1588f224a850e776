#include "ril/dist/agreement.h"

#include "ril/common/error.h"
#include "ril/dist/host_messages.h"

namespace ril::dist {

void agree_or_throw(Communicator& comm, const std::string& error, ErrorKind kind, const std::string& prefix) {
  // The lowest failing rank speaks for all (size: nobody failed).
  at::Tensor failing = at::full({1}, error.empty() ? static_cast<int64_t>(comm.size()) : static_cast<int64_t>(comm.rank()),
                                at::kLong);
  comm.allreduce(failing, ReduceOp::kMin);
  const int speaker = static_cast<int>(failing.item<int64_t>());
  if (speaker == comm.size()) return;
  const std::string text = prefix + broadcast_text(comm, error, speaker);
  if (kind == ErrorKind::kConfig) throw ConfigError(text);
  throw Error(text);
}

}  // namespace ril::dist
