#pragma once

#include <map>
#include <string>

#include <boost/json/value.hpp>

namespace keyflow::test {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  boost::json::value json() const;  // the body parsed; throws when it is not JSON
};

// A blocking HTTP/1.1 client over a real loopback socket, for tests.
class HttpTestClient {
 public:
  HttpTestClient(std::string host, unsigned short port, std::string bearer = {})
      : host_(std::move(host)), port_(port), bearer_(std::move(bearer)) {}

  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {}) const;
  HttpResult get(const std::string& target) const { return request("GET", target); }
  HttpResult post(const std::string& target, const boost::json::value& body) const;
  HttpResult patch(const std::string& target, const boost::json::value& body) const;
  HttpResult del(const std::string& target) const { return request("DELETE", target); }

  HttpTestClient with_bearer(std::string bearer) const { return {host_, port_, std::move(bearer)}; }

 private:
  std::string host_;
  unsigned short port_;
  std::string bearer_;
};

}  // namespace keyflow::test
