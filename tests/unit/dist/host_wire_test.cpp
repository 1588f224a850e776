// The host wire format (dist/byte_codec.h): round trips of scalars, strings, vectors and lists of
// texts, including the empty cases, non-ASCII and non-UTF-8 bytes, a 1 MB text; malformed
// buffers throw instead of being read as data.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ril/common/error.h"
#include "ril/dist/byte_codec.h"

namespace {

using ril::dist::ByteReader;
using ril::dist::ByteWriter;

std::string one_megabyte() {
  std::string text(1 << 20, 'x');
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>("ab\xc3\xa9\n "[i % 6]);
  return text;
}

const std::vector<std::string>& samples() {
  static const std::vector<std::string> texts = {
      "",                                    // empty
      "plain ASCII",
      "Gr\xc3\xbc\xc3\x9f" "e, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82",  // UTF-8: 2, 3 and 4-byte characters
      std::string("nul\0inside", 10),        // an embedded NUL
      "\xff\xfe invalid UTF-8 \xc3",         // not UTF-8 at all
      one_megabyte(),
  };
  return texts;
}

TEST(HostWire, TextsRoundTrip) {
  EXPECT_EQ(ril::dist::unpack_texts(ril::dist::pack_texts(samples())), samples());
  EXPECT_TRUE(ril::dist::unpack_texts(ril::dist::pack_texts({})).empty());
  EXPECT_EQ(ril::dist::pack_texts({}).size(), sizeof(int64_t));  // just the count
  for (const std::string& t : samples()) {
    EXPECT_EQ(ril::dist::unpack_texts(ril::dist::pack_texts({t})), std::vector<std::string>{t}) << t.size();
  }
}

TEST(HostWire, FieldsRoundTripInOrder) {
  struct Small {
    double a;
    int32_t b;
  };
  ByteWriter out;
  out.put<int64_t>(-7);
  out.put(Small{2.5, 9});
  out.put_string(samples()[2]);
  out.put_vector(std::vector<int64_t>{1, -2, 3});
  out.put_vector(std::vector<double>{});
  out.put_texts(samples());
  const std::string bytes = out.take();
  ByteReader in(bytes);
  EXPECT_EQ(in.get<int64_t>(), -7);
  const Small s = in.get<Small>();
  EXPECT_EQ(s.a, 2.5);
  EXPECT_EQ(s.b, 9);
  EXPECT_EQ(in.get_string(), samples()[2]);
  EXPECT_EQ(in.get_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_TRUE(in.get_vector<double>().empty());
  EXPECT_EQ(in.get_texts(), samples());
  EXPECT_TRUE(in.done());
  EXPECT_NO_THROW(in.expect_done("test"));
}

TEST(HostWire, MalformedBuffersThrow) {
  const std::string good = ril::dist::pack_texts({"hello", "world"});
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_THROW(ril::dist::unpack_texts(good.substr(0, cut)), ril::Error) << "cut at " << cut;
  }
  EXPECT_THROW(ril::dist::unpack_texts(good + "!"), ril::Error);  // trailing bytes
  ByteWriter huge;
  huge.put<int64_t>(int64_t{1} << 40);  // a count the buffer cannot hold
  EXPECT_THROW(ril::dist::unpack_texts(huge.bytes()), ril::Error);
  ByteWriter negative;
  negative.put<int64_t>(-1);
  const std::string bytes = negative.take();
  ByteReader in(bytes);
  EXPECT_THROW(in.get_string(), ril::Error);
}

}  // namespace
