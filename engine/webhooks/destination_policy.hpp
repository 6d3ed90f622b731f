#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyflow {

// An IP address as 16 bytes; IPv4 addresses in their IPv4-mapped form (::ffff:a.b.c.d).
using IpBytes = std::array<std::uint8_t, 16>;

IpBytes ipv4_bytes(std::uint32_t address);  // host byte order in, mapped form out
std::string to_string(const IpBytes& address);

// A host as a resolver would take it as numeric: IPv4 in every spelling inet_aton accepts
// (dotted, 127.1, decimal 2130706433, hex 0x7f000001, octal 0177.0.0.1), or IPv6 text, with
// or without brackets. nullopt for a name.
std::optional<IpBytes> parse_ip_literal(std::string_view host);

// Why a webhook destination is refused, after the IANA IPv4 and IPv6 special-purpose address
// registries: only globally reachable unicast is public. Addresses that carry an IPv4 address
// (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are classified as the IPv4
// address they carry, so that none of them reaches what the IPv4 form may not.
enum class DestinationClass {
  public_address,
  loopback,         // 127/8, ::1
  private_use,      // 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10, 64:ff9b:1::/48
  shared_address,   // 100.64/10: carrier-grade NAT, and cloud metadata (100.100.100.200)
  link_local,       // 169.254/16 (cloud metadata lives here), fe80::/10
  unspecified,      // 0/8, ::  (Linux connects these to the local host)
  multicast,        // 224/4, 255.255.255.255, ff00::/8
  special_purpose,  // protocol assignments, documentation, benchmarking, discard, reserved
};
DestinationClass classify_destination(const IpBytes& address);
std::string_view to_string(DestinationClass c);

// Which destinations webhooks may target: public addresses, and those of allow_cidrs (each a
// CIDR, KEYFLOW_WEBHOOK_ALLOW_CIDRS) for chosen ranges in development and tests;
// allow_private (KEYFLOW_WEBHOOK_ALLOW_PRIVATE) is the blunt switch that admits everything
// but multicast. Checked on every address a name resolves to, right before connecting, and
// on IP literals when a URL is accepted.
class DestinationPolicy {
 public:
  DestinationPolicy() = default;
  // Throws std::invalid_argument naming a CIDR that does not parse.
  DestinationPolicy(bool allow_private, const std::vector<std::string>& allow_cidrs);

  bool allows(const IpBytes& address) const;

  // A URL whose host is an IP literal this policy refuses: 422 naming `field`. Names are
  // vetted when they are resolved, since what they resolve to can change.
  void vet_url_host(std::string_view url, const std::string& field) const;

 private:
  bool allow_private_ = false;
  std::vector<std::string> allow_cidrs_;  // canonical
};

// "10.0.0.0/8, fd00::/8" (commas or white space between) into its items.
std::vector<std::string> split_cidr_list(std::string_view text);

}  // namespace keyflow
