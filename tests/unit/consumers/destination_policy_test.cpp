#include "consumers/destination_policy.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using boost::asio::ip::make_address;

DestinationClass classify(const char* text) {
  return classify_destination(make_address(text));
}

bool allowed(const char* text, bool allow_private = false) {
  return destination_allowed(make_address(text), allow_private);
}

TEST(DestinationPolicy, PublicAddressesAreAllowed) {
  for (const char* a :
       {"93.184.216.34", "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "192.169.0.1",
        "11.0.0.1", "169.253.255.255", "2606:4700:4700::1111", "2001:db8::1"}) {
    EXPECT_EQ(classify(a), DestinationClass::public_address) << a;
    EXPECT_TRUE(allowed(a)) << a;
  }
}

TEST(DestinationPolicy, LoopbackIsRefused) {
  for (const char* a : {"127.0.0.1", "127.255.255.254", "127.1.2.3", "::1"}) {
    EXPECT_EQ(classify(a), DestinationClass::loopback) << a;
    EXPECT_FALSE(allowed(a)) << a;
  }
}

TEST(DestinationPolicy, PrivateRangesAreRefused) {
  for (const char* a : {"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1",
                        "192.168.255.255", "fc00::1", "fd12:3456::1"}) {
    EXPECT_EQ(classify(a), DestinationClass::private_use) << a;
    EXPECT_FALSE(allowed(a)) << a;
  }
}

TEST(DestinationPolicy, LinkLocalIncludingCloudMetadataIsRefused) {
  for (const char* a : {"169.254.169.254", "169.254.0.1", "fe80::1", "febf::1"}) {
    EXPECT_EQ(classify(a), DestinationClass::link_local) << a;
    EXPECT_FALSE(allowed(a)) << a;
  }
}

TEST(DestinationPolicy, UnspecifiedAddressesAreRefused) {
  // Linux connects 0.0.0.0 to the local host, so it is as dangerous as loopback.
  for (const char* a : {"0.0.0.0", "0.1.2.3", "::"}) {
    EXPECT_EQ(classify(a), DestinationClass::unspecified) << a;
    EXPECT_FALSE(allowed(a)) << a;
  }
}

TEST(DestinationPolicy, MulticastIsRefusedEvenWhenPrivateIsAllowed) {
  for (const char* a : {"224.0.0.1", "239.255.255.250", "255.255.255.255", "ff02::1"}) {
    EXPECT_EQ(classify(a), DestinationClass::multicast) << a;
    EXPECT_FALSE(allowed(a, true)) << a;
  }
}

TEST(DestinationPolicy, Ipv4MappedIpv6IsJudgedByItsIpv4Address) {
  EXPECT_EQ(classify("::ffff:127.0.0.1"), DestinationClass::loopback);
  EXPECT_EQ(classify("::ffff:10.1.2.3"), DestinationClass::private_use);
  EXPECT_EQ(classify("::ffff:169.254.169.254"), DestinationClass::link_local);
  EXPECT_EQ(classify("::ffff:8.8.8.8"), DestinationClass::public_address);
  EXPECT_FALSE(allowed("::ffff:127.0.0.1"));
}

TEST(DestinationPolicy, AllowPrivateAdmitsLoopbackPrivateAndLinkLocal) {
  for (const char* a : {"127.0.0.1", "::1", "10.0.0.1", "192.168.1.1", "fd00::1", "169.254.1.1",
                        "fe80::1", "8.8.8.8"}) {
    EXPECT_TRUE(allowed(a, true)) << a;
  }
}

TEST(DestinationPolicy, ClassesHaveReadableNames) {
  EXPECT_EQ(to_string(DestinationClass::loopback), "loopback");
  EXPECT_EQ(to_string(DestinationClass::private_use), "private");
  EXPECT_EQ(to_string(DestinationClass::link_local), "link-local");
}

}  // namespace
}  // namespace keyflow
