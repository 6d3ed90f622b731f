#include "engine/webhooks/destination_policy.hpp"

#include <gtest/gtest.h>

#include "engine/core/errc.hpp"

namespace keyflow {
namespace {

IpBytes address(const char* text) {
  const auto parsed = parse_ip_literal(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(IpBytes{});
}

DestinationClass classify(const char* text) {
  return classify_destination(address(text));
}

bool allowed(const char* text, bool allow_private = false) {
  return DestinationPolicy(allow_private, {}).allows(address(text));
}

TEST(DestinationPolicy, PublicAddressesAreAllowed) {
  for (const char* a :
       {"93.184.216.34",        "8.8.8.8",           "1.1.1.1",          "172.15.255.255",
        "172.32.0.1",           "192.169.0.1",       "11.0.0.1",         "169.253.255.255",
        "100.63.255.255",       "100.128.0.1",       "192.0.1.1",        "198.17.255.255",
        "198.20.0.1",           "192.31.196.1",      "192.175.48.1",     "223.255.255.255",
        "2606:4700:4700::1111", "2a00:1450:4001::1", "64:ff9b::808:808", "2002:808:808::1"}) {
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

TEST(DestinationPolicy, SharedAddressSpaceAndCloudMetadataThereAreRefused) {
  for (const char* a : {"100.64.0.1", "100.100.100.200", "100.127.255.255"}) {
    EXPECT_EQ(classify(a), DestinationClass::shared_address) << a;
    EXPECT_FALSE(allowed(a)) << a;
  }
}

TEST(DestinationPolicy, SpecialPurposeBlocksOfTheIanaRegistriesAreRefused) {
  for (const char* a :
       {"192.0.0.1", "192.0.0.170", "192.0.2.1", "192.88.99.1", "198.18.0.1", "198.19.255.255",
        "198.51.100.7", "203.0.113.9", "240.0.0.1", "254.255.255.255", "2001:db8::1", "2001::1",
        "2001:1ff::1", "3fff::1", "100::1", "5f00::1", "::1.2.3.4", "4000::1"}) {
    EXPECT_EQ(classify(a), DestinationClass::special_purpose) << a;
    EXPECT_FALSE(allowed(a)) << a;
  }
}

TEST(DestinationPolicy, Nat64And6to4AreJudgedByTheIpv4AddressTheyCarry) {
  EXPECT_EQ(classify("64:ff9b::7f00:1"), DestinationClass::loopback);
  EXPECT_EQ(classify("64:ff9b::a9fe:a9fe"), DestinationClass::link_local);
  EXPECT_EQ(classify("64:ff9b::6464:64c8"), DestinationClass::shared_address);
  EXPECT_EQ(classify("2002:7f00:1::"), DestinationClass::loopback);
  EXPECT_EQ(classify("2002:a00:1::1"), DestinationClass::private_use);
  EXPECT_EQ(classify("64:ff9b:1::a00:1"), DestinationClass::private_use);  // local-use NAT64
  EXPECT_EQ(classify("fec0::1"), DestinationClass::private_use);           // site-local
  EXPECT_FALSE(allowed("64:ff9b::7f00:1"));
  EXPECT_FALSE(allowed("2002:a9fe:a9fe::"));
}

TEST(DestinationPolicy, IpLiteralsAreReadInEverySpellingAResolverTakes) {
  for (const char* spelling : {"127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1",
                               "0x7f.0.0.1", "[::ffff:127.0.0.1]", "::ffff:7f00:1"}) {
    const auto parsed = parse_ip_literal(spelling);
    ASSERT_TRUE(parsed) << spelling;
    EXPECT_EQ(to_string(*parsed), "127.0.0.1") << spelling;
  }
  EXPECT_FALSE(parse_ip_literal("example.com"));
  EXPECT_FALSE(parse_ip_literal("127.0.0.1.example.com"));
  EXPECT_FALSE(parse_ip_literal(""));
}

TEST(DestinationPolicy, UrlsWithRefusedIpLiteralsAreRefusedNamingTheField) {
  const DestinationPolicy policy;
  for (const char* url :
       {"http://127.0.0.1/hook", "http://2130706433/", "http://0x7f000001:8080/",
        "https://[::ffff:10.0.0.1]/", "http://[::1]:9/", "http://100.100.100.200/latest",
        "http://169.254.169.254/", "http://0177.1/", "http://[64:ff9b::a9fe:a9fe]/"}) {
    try {
      policy.vet_url_host(url, "url");
      ADD_FAILURE() << url << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), errc::invalid_argument) << url;
      EXPECT_EQ(e.field(), "url") << url;
    }
  }
  for (const char* url : {"https://example.com/hook", "http://93.184.216.34/",
                          "https://[2606:4700::1]/", "http://localhost/"}) {
    EXPECT_NO_THROW(policy.vet_url_host(url, "url")) << url;  // names are vetted on resolving
  }
}

TEST(DestinationPolicy, AllowedCidrsOpenOnlyTheirRanges) {
  const DestinationPolicy policy(false, split_cidr_list("127.0.0.0/8, fd00::/8"));
  EXPECT_TRUE(policy.allows(address("127.0.0.1")));
  EXPECT_TRUE(policy.allows(address("::ffff:127.0.0.2")));
  EXPECT_TRUE(policy.allows(address("fd00::5")));
  EXPECT_FALSE(policy.allows(address("10.0.0.1")));
  EXPECT_FALSE(policy.allows(address("::1")));
  EXPECT_TRUE(policy.allows(address("8.8.8.8")));
  EXPECT_NO_THROW(policy.vet_url_host("http://127.0.0.1:9000/", "url"));
  EXPECT_THROW(DestinationPolicy(false, {"10.0.0.0/33"}), std::invalid_argument);
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
