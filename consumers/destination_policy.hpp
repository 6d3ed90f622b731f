#pragma once

#include <string_view>

#include <boost/asio/ip/address.hpp>

namespace keyflow {

// Why a webhook target address is refused. Checked on every address DNS returns, right before
// connecting, so that a name that resolves (or re-resolves) to an internal address cannot
// turn the deliverer into a proxy into our own network.
enum class DestinationClass {
  public_address,
  loopback,     // 127.0.0.0/8, ::1
  private_use,  // 10/8, 172.16/12, 192.168/16, fc00::/7
  link_local,   // 169.254/16 (cloud metadata lives here), fe80::/10
  unspecified,  // 0.0.0.0/8, ::  (Linux connects these to the local host)
  multicast,    // 224/4, 255.255.255.255, ff00::/8
};

// IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are classified as the IPv4 address they carry.
DestinationClass classify_destination(const boost::asio::ip::address& address);

// True when a webhook may be sent to address. allow_private (tests, development) admits
// everything but multicast.
bool destination_allowed(const boost::asio::ip::address& address, bool allow_private);

// "loopback", "private", ... for error messages.
std::string_view to_string(DestinationClass c);

}  // namespace keyflow
