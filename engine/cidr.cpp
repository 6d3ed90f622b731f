#include "engine/cidr.hpp"

#include <arpa/inet.h>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace keyflow {
namespace {

struct Address {
  int family = 0;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};
  int bits() const { return family == AF_INET ? 32 : 128; }
};

std::optional<Address> parse_address(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
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

}  // namespace

std::optional<std::string> canonical_cidr(std::string_view text) {
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
  clear_host_bits(*address, prefix);
  return to_text(*address) + "/" + std::to_string(prefix);
}

bool ip_in_any(std::string_view ip, const std::vector<std::string>& cidrs) {
  const auto address = parse_address(ip);
  if (!address) return false;
  for (const auto& cidr : cidrs) {
    const auto slash = cidr.find('/');
    const auto network = parse_address(std::string_view(cidr).substr(0, slash));
    if (!network || network->family != address->family) continue;
    const int prefix = std::stoi(cidr.substr(slash + 1));
    Address masked = *address;
    clear_host_bits(masked, prefix);
    if (masked.bytes == network->bytes) return true;
  }
  return false;
}

bool is_ip_address(std::string_view text) {
  return parse_address(text).has_value();
}

}  // namespace keyflow
