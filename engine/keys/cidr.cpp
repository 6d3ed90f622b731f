#include "engine/keys/cidr.hpp"

#include <arpa/inet.h>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <utility>

namespace keyflow {
namespace {

struct Address {
  int family = 0;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};
  int bits() const { return family == AF_INET ? 32 : 128; }
};

std::optional<Address> parse_address(std::string_view text) {
  // inet_pton reads a C string: text with a NUL in it would be cut there, not refused.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string s(text);
  Address a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    // ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket.
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes.data(), kMapped, 12) == 0) {
      std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
      std::memset(a.bytes.data() + 4, 0, 12);
      a.family = AF_INET;
    }
    return a;
  }
  return std::nullopt;
}

void clear_host_bits(Address& a, int prefix) {
  for (int bit = prefix; bit < a.bits(); ++bit) {
    a.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
}

std::string to_text(const Address& a) {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(a.family, a.bytes.data(), buffer, sizeof buffer);
  return buffer;
}

// A network "address/prefix" with its prefix; nullopt unless both parts are well formed.
std::optional<std::pair<Address, int>> parse_network(std::string_view text) {
  const auto slash = text.find('/');
  auto address = parse_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  int prefix = address->bits();
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || prefix < 0 ||
        prefix > address->bits()) {
      return std::nullopt;
    }
  }
  return std::pair{*address, prefix};
}

}  // namespace

std::optional<std::string> canonical_cidr(std::string_view text) {
  auto network = parse_network(text);
  if (!network) return std::nullopt;
  clear_host_bits(network->first, network->second);
  return to_text(network->first) + "/" + std::to_string(network->second);
}

bool ip_in_any(std::string_view ip, const std::vector<std::string>& cidrs) {
  const auto address = parse_address(ip);
  if (!address) return false;
  for (const auto& cidr : cidrs) {
    const auto network = parse_network(cidr);
    if (!network || network->first.family != address->family) continue;
    Address masked = *address;
    clear_host_bits(masked, network->second);
    if (masked.bytes == network->first.bytes) return true;
  }
  return false;
}

bool cidr_within_any(std::string_view inner, const std::vector<std::string>& outer) {
  const auto network = parse_network(inner);
  if (!network) return false;
  for (const auto& cidr : outer) {
    const auto wide = parse_network(cidr);
    if (!wide || wide->first.family != network->first.family || wide->second > network->second) {
      continue;
    }
    Address masked = network->first;
    clear_host_bits(masked, wide->second);
    if (masked.bytes == wide->first.bytes) return true;
  }
  return false;
}

}  // namespace keyflow
