// Networks and destinations: engine/keys/cidr.hpp and consumers/destination_policy.hpp.
//
// The input is lines: a network (or address), an address, then networks for the lists.
// - canonical_cidr's output is a fixed point, contains its own network address, and lies
//   within itself; it is refused or accepted the same with the address part's case changed.
// - ip_in_any over canonical networks agrees with cidr_within_any of the address as a
//   host network; containment is transitive (address in a network within a list → in it).
// - classify_destination of any address Asio parses agrees with the documented ranges,
//   checked through ip_in_any, and destination_allowed follows from the class.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "consumers/destination_policy.hpp"
#include "engine/keys/cidr.hpp"
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

// The ranges destination_policy.hpp documents, class by class.
DestinationClass expected_class(const std::string& ip) {
  struct Range {
    DestinationClass c;
    std::vector<std::string> cidrs;
  };
  static const std::vector<Range> ranges = {
      {DestinationClass::unspecified, {"0.0.0.0/8", "::/128"}},
      {DestinationClass::loopback, {"127.0.0.0/8", "::1/128"}},
      {DestinationClass::private_use,
       {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}},
      {DestinationClass::link_local, {"169.254.0.0/16", "fe80::/10"}},
      {DestinationClass::multicast, {"224.0.0.0/4", "255.255.255.255/32", "ff00::/8"}},
  };
  for (const auto& range : ranges) {
    if (ip_in_any(ip, range.cidrs)) return range.c;
  }
  return DestinationClass::public_address;
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
  const auto c = classify_destination(address);
  if (c != expected_class(plain)) {
    std::fprintf(stderr, "%s is %s, expected %s\n", plain.c_str(), to_string(c).data(),
                 to_string(expected_class(plain)).data());
    FUZZ_CHECK(c == expected_class(plain));
  }
  FUZZ_CHECK(destination_allowed(address, false) == (c == DestinationClass::public_address));
  FUZZ_CHECK(destination_allowed(address, true) == (c != DestinationClass::multicast));
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
