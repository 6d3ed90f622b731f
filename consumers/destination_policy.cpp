#include "consumers/destination_policy.hpp"

#include <cstdint>

namespace keyflow {
namespace {

bool in_v4(std::uint32_t a, std::uint32_t network, int prefix) {
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == network;
}

DestinationClass classify_v4(const boost::asio::ip::address_v4& address) {
  const std::uint32_t a = address.to_uint();
  if (in_v4(a, 0x00000000, 8)) return DestinationClass::unspecified;
  if (in_v4(a, 0x7F000000, 8)) return DestinationClass::loopback;
  if (in_v4(a, 0x0A000000, 8) || in_v4(a, 0xAC100000, 12) || in_v4(a, 0xC0A80000, 16)) {
    return DestinationClass::private_use;
  }
  if (in_v4(a, 0xA9FE0000, 16)) return DestinationClass::link_local;
  if (in_v4(a, 0xE0000000, 4) || a == 0xFFFFFFFF) return DestinationClass::multicast;
  return DestinationClass::public_address;
}

DestinationClass classify_v6(const boost::asio::ip::address_v6& address) {
  if (address.is_v4_mapped()) {
    return classify_v4(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address));
  }
  if (address.is_unspecified()) return DestinationClass::unspecified;
  if (address.is_loopback()) return DestinationClass::loopback;
  const auto bytes = address.to_bytes();
  if ((bytes[0] & 0xFE) == 0xFC) return DestinationClass::private_use;
  if (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80) return DestinationClass::link_local;
  if (bytes[0] == 0xFF) return DestinationClass::multicast;
  return DestinationClass::public_address;
}

}  // namespace

DestinationClass classify_destination(const boost::asio::ip::address& address) {
  return address.is_v4() ? classify_v4(address.to_v4()) : classify_v6(address.to_v6());
}

bool destination_allowed(const boost::asio::ip::address& address, bool allow_private) {
  const auto c = classify_destination(address);
  if (c == DestinationClass::public_address) return true;
  return allow_private && c != DestinationClass::multicast;
}

std::string_view to_string(DestinationClass c) {
  switch (c) {
    case DestinationClass::public_address:
      return "public";
    case DestinationClass::loopback:
      return "loopback";
    case DestinationClass::private_use:
      return "private";
    case DestinationClass::link_local:
      return "link-local";
    case DestinationClass::unspecified:
      return "unspecified";
    case DestinationClass::multicast:
      return "multicast";
  }
  return "unknown";
}

}  // namespace keyflow
