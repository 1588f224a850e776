// Private to src/dist: what travels ahead of a tensor's bytes so that the receiver can
// allocate it: int64[kWireHeaderLength] = {dtype code, ndim, dim0, ..., dim7}. The codes are
// ours (not at::ScalarType's values) so that two LibTorch versions agree on them.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>

namespace ril::dist::detail {

constexpr int kMaxDims = 8;
constexpr int kWireHeaderLength = 2 + kMaxDims;
using WireHeader = std::array<int64_t, kWireHeaderLength>;

WireHeader make_header(const at::Tensor& tensor);
at::ScalarType header_dtype(const WireHeader& header);
std::vector<int64_t> header_shape(const WireHeader& header);
std::string describe_header(const WireHeader& header);  // "float32[4,8]"
// A contiguous tensor on `device` with the header's dtype and shape.
at::Tensor empty_from_header(const WireHeader& header, const at::Device& device);

}  // namespace ril::dist::detail
