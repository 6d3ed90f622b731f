#include "engine/keys/cidr.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

TEST(Cidr, CanonicalisesNetworksAndBareAddresses) {
  EXPECT_EQ(canonical_cidr("10.1.2.3/8"), "10.0.0.0/8");
  EXPECT_EQ(canonical_cidr("192.168.1.7"), "192.168.1.7/32");
  EXPECT_EQ(canonical_cidr("2001:db8::1/32"), "2001:db8::/32");
  EXPECT_EQ(canonical_cidr("::1"), "::1/128");
  EXPECT_EQ(canonical_cidr("0.0.0.0/0"), "0.0.0.0/0");
}

TEST(Cidr, RejectsWhatIsNotANetwork) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0/8", "abc", "10.0.0.0/", "10.0.0.0/-1",
                          "10.0.0.0/8x", "2001:db8::/129", "1.2.3.4 /8"}) {
    EXPECT_FALSE(canonical_cidr(bad).has_value()) << bad;
  }
}

TEST(Cidr, MatchesAddressesInsideOnly) {
  const std::vector<std::string> cidrs = {"10.0.0.0/8", "2001:db8::/32", "203.0.113.7/32"};
  EXPECT_TRUE(ip_in_any("10.200.3.4", cidrs));
  EXPECT_TRUE(ip_in_any("203.0.113.7", cidrs));
  EXPECT_TRUE(ip_in_any("2001:db8:1::5", cidrs));
  EXPECT_TRUE(ip_in_any("::ffff:10.1.1.1", cidrs));
  EXPECT_FALSE(ip_in_any("11.0.0.1", cidrs));
  EXPECT_FALSE(ip_in_any("203.0.113.8", cidrs));
  EXPECT_FALSE(ip_in_any("2001:db9::1", cidrs));
  EXPECT_FALSE(ip_in_any("not-an-ip", cidrs));
  EXPECT_TRUE(ip_in_any("8.8.8.8", {"0.0.0.0/0"}));
}

TEST(Cidr, ANetworkIsWithinAnotherWhenNarrowerAndInside) {
  const std::vector<std::string> outer = {"127.0.0.0/8", "2001:db8::/32"};
  EXPECT_TRUE(cidr_within_any("127.0.0.0/8", outer));
  EXPECT_TRUE(cidr_within_any("127.1.0.0/16", outer));
  EXPECT_TRUE(cidr_within_any("127.0.0.1/32", outer));
  EXPECT_TRUE(cidr_within_any("2001:db8:ff::/48", outer));
  EXPECT_FALSE(cidr_within_any("127.0.0.0/7", outer)) << "wider";
  EXPECT_FALSE(cidr_within_any("10.0.0.0/8", outer));
  EXPECT_FALSE(cidr_within_any("::/0", outer));
  EXPECT_FALSE(cidr_within_any("0.0.0.0/0", outer));
  EXPECT_FALSE(cidr_within_any("not a network", outer));
  EXPECT_FALSE(cidr_within_any("127.0.0.1/32", {}));
}

}  // namespace
}  // namespace keyflow
