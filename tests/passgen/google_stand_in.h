#pragma once
// A stand-in for Google's OAuth token endpoint and the Wallet REST API (genericClass,
// genericObject) on 127.0.0.1:<free port>, built on cpp-httplib. It checks every request the way
// Google would (method, path, bearer token, JSON body, the RS256 assertion's signature and claims
// against the service account's public key), keeps classes and objects in memory, and can be told
// to answer with faults: a status (with Retry-After), a slow answer, or a malformed body.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lk::testing {

class GoogleStandIn {
 public:
  // `public_key_pem`: the service account's key; assertions must verify with it.
  explicit GoogleStandIn(std::string public_key_pem, std::string client_email);
  ~GoogleStandIn();

  std::string token_url() const;  // http://127.0.0.1:<port>/token
  std::string api_url() const;    // http://127.0.0.1:<port>/walletobjects/v1

  struct Fault {
    std::string path_prefix;             // applies to requests whose path starts with this ("" = any)
    int status = 500;                    // answered instead of the real handler, unless slow/malformed
    std::string retry_after;             // Retry-After header value, if any
    std::chrono::milliseconds delay{0};  // sleep before answering normally (slow server)
    bool malformed = false;              // answer 200 with a body that is not JSON
    int times = 1;                       // how many requests it hits
  };
  void AddFault(Fault f);

  struct Request {
    std::string method, path, body;
    int status = 0;
    std::string authorization;  // the Authorization header as sent
  };
  std::vector<Request> requests() const;  // every request, in arrival order
  size_t CountRequests(const std::string& method, const std::string& path_prefix) const;
  size_t token_grants() const;                        // access tokens handed out
  std::vector<std::string> assertion_errors() const;  // why assertions were refused
  void RevokeTokens();                                // every issued access token now gets 401
  // Stored resources, by id.
  std::map<std::string, nlohmann::json> objects() const;
  std::map<std::string, nlohmann::json> classes() const;
  void PutObject(const nlohmann::json& object);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lk::testing
