#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyflow {

// "10.1.0.0/16" or "2001:db8::/32" in canonical form (host bits cleared); a bare address is
// taken as /32 or /128. nullopt when it is neither.
std::optional<std::string> canonical_cidr(std::string_view text);

// True when ip (an IPv4 or IPv6 address) lies in one of the canonical CIDRs. An IPv4-mapped
// IPv6 address (::ffff:10.0.0.1) is matched as its IPv4 address.
bool ip_in_any(std::string_view ip, const std::vector<std::string>& cidrs);

// True when the canonical CIDR inner lies wholly inside one of the canonical CIDRs outer:
// same family, a prefix at least as long, and the same network bits.
bool cidr_within_any(std::string_view inner, const std::vector<std::string>& outer);

}  // namespace keyflow
