// Host data between the ranks of a communicator: byte strings (byte_codec.h messages), texts,
// small trivially copyable structs and float64 statistics. Everything travels as CPU tensors
// through a HOST communicator (RankGroups::host_group(), the host channels): MPI, or local for
// one rank, never NCCL (DESIGN.md section 2: host data always travels over MPI).
// A message whose length the receivers cannot know is preceded by its length (int64).
// Which ranks call: every member of `comm` for the collectives; relay_bytes only `from` and `to`.
#pragma once

#include <string>
#include <vector>

#include "ril/dist/byte_codec.h"
#include "ril/dist/communicator.h"

namespace ril::dist {

// Collective: root's bytes on every member (returned; root gets its own back).
std::string broadcast_bytes(Communicator& comm, const std::string& bytes, int root);
// Collective: every member's bytes on `root`, in rank order; the other members get {}.
std::vector<std::string> gather_bytes(Communicator& comm, const std::string& mine, int root);
// Point to point: `from`'s bytes are returned on `to` (from == to: returned as they are). Only
// `from` and `to` call it; `from` gets "" back.
std::string relay_bytes(Communicator& comm, const std::string& bytes, int from, int to);

// Collective: root's text / list of texts on every member.
inline std::string broadcast_text(Communicator& comm, const std::string& text, int root) {
  return broadcast_bytes(comm, text, root);
}
std::vector<std::string> broadcast_texts(Communicator& comm, const std::vector<std::string>& texts, int root);

// Collective: root's value of a small trivially copyable struct on every member.
template <typename T>
T broadcast_value(Communicator& comm, const T& value, int root) {
  ByteWriter out;
  out.put(value);
  const std::string bytes = broadcast_bytes(comm, out.bytes(), root);
  ByteReader in(bytes);
  const T got = in.get<T>();
  in.expect_done("broadcast_value");
  return got;
}

// Collective: the root's vector (of trivially copyable elements) on every member.
template <typename T>
std::vector<T> broadcast_vector(Communicator& comm, const std::vector<T>& values, int root) {
  ByteWriter out;
  out.put_vector(values);
  const std::string bytes = broadcast_bytes(comm, out.bytes(), root);
  ByteReader in(bytes);
  std::vector<T> got = in.template get_vector<T>();
  in.expect_done("broadcast_vector");
  return got;
}

// Collective: element-wise reduction of host statistics in float64 (every member passes the
// same number of values and gets the result).
std::vector<double> allreduce_values(Communicator& comm, const std::vector<double>& values, ReduceOp op);

}  // namespace ril::dist
