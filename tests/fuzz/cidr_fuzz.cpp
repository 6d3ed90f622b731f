// Networks and destinations: engine/keys/cidr.hpp and engine/webhooks/destination_policy.hpp.
//
// The input is lines: a network (or address), an address, then networks for the lists.
// - canonical_cidr's output is a fixed point, contains its own network address, and lies
//   within itself; it is refused or accepted the same with the address part's case changed.
// - ip_in_any over canonical networks agrees with cidr_within_any of the address as a
//   host network; containment is transitive (address in a network within a list → in it).
// - classify_destination of any address Asio parses agrees with the documented ranges,
//   checked through ip_in_any, and DestinationPolicy::allows follows from the class and
//   admits what its CIDRs name.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "engine/keys/cidr.hpp"
#include "engine/webhooks/destination_policy.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace keyflow;

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty() && out.size() < 8) {
    const auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return out;
}

// An IPv4 or IPv6 address without a zone, by Asio's reading (the oracle for cidr.cpp's). Asio
// reads a C string, so text with U+0000 in it is none.
bool is_ip_address(std::string_view text) {
  if (text.find_first_of(std::string_view("%\0", 2)) != std::string_view::npos) return false;
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(text), ec);
  return !ec;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The address part of a canonical "address/prefix".
std::string_view address_of(std::string_view cidr) {
  return cidr.substr(0, cidr.find('/'));
}

void check_canonical(std::string_view text) {
  const auto canonical = canonical_cidr(text);
  FUZZ_CHECK(canonical.has_value() == canonical_cidr(upper(text)).has_value());
  if (!canonical) return;
  FUZZ_CHECK(canonical_cidr(*canonical) == canonical);
  FUZZ_CHECK(ip_in_any(address_of(*canonical), {*canonical}));
  FUZZ_CHECK(cidr_within_any(*canonical, {*canonical}));
  FUZZ_CHECK(is_ip_address(address_of(*canonical)));
}

// The ranges destination_policy.hpp documents, class by class, in the order they are tried.
DestinationClass class_in(const std::string& ip, bool v4) {
  struct Range {
    DestinationClass c;
    std::vector<std::string> cidrs;
  };
  static const std::vector<Range> v4_ranges = {
      {DestinationClass::unspecified, {"0.0.0.0/8"}},
      {DestinationClass::loopback, {"127.0.0.0/8"}},
      {DestinationClass::private_use, {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}},
      {DestinationClass::shared_address, {"100.64.0.0/10"}},
      {DestinationClass::link_local, {"169.254.0.0/16"}},
      {DestinationClass::multicast, {"224.0.0.0/4", "255.255.255.255/32"}},
      {DestinationClass::special_purpose,
       {"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "240.0.0.0/4"}},
  };
  static const std::vector<Range> v6_ranges = {
      {DestinationClass::unspecified, {"::/128"}},
      {DestinationClass::loopback, {"::1/128"}},
      {DestinationClass::private_use, {"64:ff9b:1::/48", "fc00::/7", "fec0::/10"}},
      {DestinationClass::link_local, {"fe80::/10"}},
      {DestinationClass::multicast, {"ff00::/8"}},
      {DestinationClass::special_purpose, {"2001::/23", "2001:db8::/32", "3fff::/20"}},
  };
  for (const auto& range : v4 ? v4_ranges : v6_ranges) {
    if (ip_in_any(ip, range.cidrs)) return range.c;
  }
  if (!v4 && !ip_in_any(ip, {"2000::/3"})) return DestinationClass::special_purpose;
  return DestinationClass::public_address;
}

// An address that carries an IPv4 address (mapped, NAT64, 6to4) is classed as that address.
DestinationClass expected_class(const boost::asio::ip::address& address) {
  if (address.is_v4()) return class_in(address.to_string(), true);
  const auto bytes = address.to_v6().to_bytes();
  const auto plain = boost::asio::ip::address_v6(bytes).to_string();
  const auto v4_at = [&](int i) {
    return boost::asio::ip::address_v4({bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]})
        .to_string();
  };
  // ip_in_any reads a mapped address as its IPv4 form, so Asio tells that one apart.
  if (address.to_v6().is_v4_mapped() || ip_in_any(plain, {"64:ff9b::/96"})) {
    return class_in(v4_at(12), true);
  }
  if (ip_in_any(plain, {"2002::/16"})) return class_in(v4_at(2), true);
  return class_in(plain, false);
}

void check_destination(std::string_view text) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return;
  // The text without a zone (fe80::1%eth0), which inet_pton in cidr.cpp does not read.
  const std::string plain =
      address.is_v6() ? boost::asio::ip::address_v6(address.to_v6().to_bytes()).to_string()
                      : address.to_string();
  FUZZ_CHECK(is_ip_address(plain));
  const auto parsed = parse_ip_literal(plain);
  FUZZ_CHECK(parsed.has_value());
  const auto c = classify_destination(*parsed);
  const auto expected = expected_class(address);
  if (c != expected) {
    std::fprintf(stderr, "%s is %s, expected %s\n", plain.c_str(), to_string(c).data(),
                 to_string(expected).data());
    FUZZ_CHECK(c == expected);
  }
  FUZZ_CHECK(DestinationPolicy(false, {}).allows(*parsed) ==
             (c == DestinationClass::public_address));
  FUZZ_CHECK(DestinationPolicy(true, {}).allows(*parsed) == (c != DestinationClass::multicast));
  FUZZ_CHECK(DestinationPolicy(false, {to_string(*parsed)}).allows(*parsed));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = lines(std::string_view(reinterpret_cast<const char*>(data), size));
  if (parts.empty()) return 0;
  for (const auto part : parts)
    check_canonical(part);

  const auto inner = canonical_cidr(parts[0]);
  const std::string_view ip = parts.size() > 1 ? parts[1] : std::string_view{};
  std::vector<std::string> outer;
  for (std::size_t i = 2; i < parts.size(); ++i) {
    if (auto c = canonical_cidr(parts[i])) outer.push_back(std::move(*c));
  }

  if (is_ip_address(ip)) {
    // An address alone reads as its /32 or /128.
    const auto host = canonical_cidr(ip);
    FUZZ_CHECK(host.has_value());
    FUZZ_CHECK(ip_in_any(ip, outer) == cidr_within_any(*host, outer));
    if (inner && ip_in_any(ip, {*inner}) && cidr_within_any(*inner, outer)) {
      FUZZ_CHECK(ip_in_any(ip, outer));
    }
  }
  if (inner) {
    bool within_one = false;
    for (const auto& o : outer)
      within_one = within_one || cidr_within_any(*inner, {o});
    FUZZ_CHECK(cidr_within_any(*inner, outer) == within_one);
  }

  for (const auto part : parts)
    check_destination(part);
  return 0;
}
