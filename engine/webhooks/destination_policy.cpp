#include "engine/webhooks/destination_policy.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <stdexcept>

#include <boost/url/parse.hpp>

#include "engine/core/errc.hpp"
#include "engine/keys/cidr.hpp"

namespace keyflow {
namespace {

bool in_v4(std::uint32_t a, std::uint32_t network, int prefix) {
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == network;
}

// The leading `prefix` bits of a equal those of network.
bool in_v6(const IpBytes& a, const IpBytes& network, int prefix) {
  for (int i = 0; i < 16 && prefix > 0; ++i, prefix -= 8) {
    const auto mask = static_cast<std::uint8_t>(prefix >= 8 ? 0xFF : 0xFF << (8 - prefix));
    if ((a[i] & mask) != (network[i] & mask)) return false;
  }
  return true;
}

IpBytes v6(std::initializer_list<std::uint8_t> leading) {
  IpBytes bytes{};
  std::copy(leading.begin(), leading.end(), bytes.begin());
  return bytes;
}

std::uint32_t v4_at(const IpBytes& a, int offset) {
  return std::uint32_t{a[offset]} << 24 | std::uint32_t{a[offset + 1]} << 16 |
         std::uint32_t{a[offset + 2]} << 8 | std::uint32_t{a[offset + 3]};
}

// IANA IPv4 Special-Purpose Address Registry: the blocks not globally reachable. The three
// AS112 and AMT blocks in 192.31.196/24, 192.52.193/24 and 192.175.48/24 are global, and
// allowed.
DestinationClass classify_v4(std::uint32_t a) {
  if (in_v4(a, 0x00000000, 8)) return DestinationClass::unspecified;
  if (in_v4(a, 0x7F000000, 8)) return DestinationClass::loopback;
  if (in_v4(a, 0x0A000000, 8) || in_v4(a, 0xAC100000, 12) || in_v4(a, 0xC0A80000, 16)) {
    return DestinationClass::private_use;
  }
  if (in_v4(a, 0x64400000, 10)) return DestinationClass::shared_address;
  if (in_v4(a, 0xA9FE0000, 16)) return DestinationClass::link_local;
  if (in_v4(a, 0xE0000000, 4) || a == 0xFFFFFFFF) return DestinationClass::multicast;
  if (in_v4(a, 0xC0000000, 24) ||  // IETF protocol assignments
      in_v4(a, 0xC0000200, 24) ||  // TEST-NET-1
      in_v4(a, 0xC0586300, 24) ||  // 6to4 relay anycast (deprecated)
      in_v4(a, 0xC6120000, 15) ||  // benchmarking
      in_v4(a, 0xC6336400, 24) ||  // TEST-NET-2
      in_v4(a, 0xCB007100, 24) ||  // TEST-NET-3
      in_v4(a, 0xF0000000, 4)) {   // reserved
    return DestinationClass::special_purpose;
  }
  return DestinationClass::public_address;
}

// IANA IPv6 Special-Purpose Address Registry, inside the global unicast space 2000::/3;
// everything outside it that carries no IPv4 address is not a webhook destination.
DestinationClass classify_v6(const IpBytes& a) {
  const IpBytes zero{};
  if (a == zero) return DestinationClass::unspecified;
  if (in_v6(a, v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 128)) {
    return DestinationClass::loopback;
  }
  if (in_v6(a, v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}), 96))
    return classify_v4(v4_at(a, 12));
  if (in_v6(a, v6({0x00, 0x64, 0xFF, 0x9B}), 96)) return classify_v4(v4_at(a, 12));  // NAT64
  if (in_v6(a, v6({0x20, 0x02}), 16)) return classify_v4(v4_at(a, 2));               // 6to4
  if (in_v6(a, v6({0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01}), 48)) {
    return DestinationClass::private_use;  // local-use NAT64
  }
  if (in_v6(a, v6({0xFC}), 7) || in_v6(a, v6({0xFE, 0xC0}), 10)) {
    return DestinationClass::private_use;  // unique local; site-local (deprecated)
  }
  if (in_v6(a, v6({0xFE, 0x80}), 10)) return DestinationClass::link_local;
  if (a[0] == 0xFF) return DestinationClass::multicast;
  if (!in_v6(a, v6({0x20}), 3)) return DestinationClass::special_purpose;
  if (in_v6(a, v6({0x20, 0x01, 0x00, 0x00}), 23) ||  // IETF protocol assignments, Teredo
      in_v6(a, v6({0x20, 0x01, 0x0D, 0xB8}), 32) ||  // documentation
      in_v6(a, v6({0x3F, 0xFF}), 20)) {              // documentation
    return DestinationClass::special_purpose;
  }
  return DestinationClass::public_address;
}

}  // namespace

IpBytes ipv4_bytes(std::uint32_t address) {
  IpBytes bytes{};
  bytes[10] = bytes[11] = 0xFF;
  bytes[12] = static_cast<std::uint8_t>(address >> 24);
  bytes[13] = static_cast<std::uint8_t>(address >> 16);
  bytes[14] = static_cast<std::uint8_t>(address >> 8);
  bytes[15] = static_cast<std::uint8_t>(address);
  return bytes;
}

std::string to_string(const IpBytes& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (in_v6(address, v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}), 96)) {
    ::inet_ntop(AF_INET, address.data() + 12, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, address.data(), text, sizeof text);
  }
  return text;
}

std::optional<IpBytes> parse_ip_literal(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.size() > 64 || host.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string text(host);
  in_addr v4{};
  if (::inet_aton(text.c_str(), &v4) != 0) return ipv4_bytes(ntohl(v4.s_addr));
  IpBytes bytes{};
  if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) return bytes;
  return std::nullopt;
}

DestinationClass classify_destination(const IpBytes& address) {
  return classify_v6(address);
}

std::string_view to_string(DestinationClass c) {
  switch (c) {
    case DestinationClass::public_address:
      return "public";
    case DestinationClass::loopback:
      return "loopback";
    case DestinationClass::private_use:
      return "private";
    case DestinationClass::shared_address:
      return "shared address space";
    case DestinationClass::link_local:
      return "link-local";
    case DestinationClass::unspecified:
      return "unspecified";
    case DestinationClass::multicast:
      return "multicast";
    case DestinationClass::special_purpose:
      return "special-purpose";
  }
  return "unknown";
}

DestinationPolicy::DestinationPolicy(bool allow_private,
                                     const std::vector<std::string>& allow_cidrs)
    : allow_private_(allow_private) {
  for (const auto& cidr : allow_cidrs) {
    auto canonical = canonical_cidr(cidr);
    if (!canonical) throw std::invalid_argument("'" + cidr + "' is not a CIDR");
    allow_cidrs_.push_back(std::move(*canonical));
  }
}

bool DestinationPolicy::allows(const IpBytes& address) const {
  const auto c = classify_destination(address);
  if (c == DestinationClass::public_address) return true;
  if (!allow_cidrs_.empty() && ip_in_any(to_string(address), allow_cidrs_)) return true;
  return allow_private_ && c != DestinationClass::multicast;
}

void DestinationPolicy::vet_url_host(std::string_view url, const std::string& field) const {
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return;  // the URL's form is checked elsewhere
  const auto address = parse_ip_literal(parsed->encoded_host_address());
  if (!address || allows(*address)) return;
  throw Error(errc::invalid_argument,
              field + " points at " + to_string(*address) + " (" +
                  std::string(to_string(classify_destination(*address))) +
                  "), which webhooks may not target",
              field);
}

std::vector<std::string> split_cidr_list(std::string_view text) {
  std::vector<std::string> items;
  std::string current;
  for (const char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!current.empty()) items.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) items.push_back(std::move(current));
  return items;
}

}  // namespace keyflow
