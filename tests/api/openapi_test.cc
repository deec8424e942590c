// The hand-written OpenAPI document and the route table describe the same service.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "api/api.h"

namespace lk::api {
namespace {

TEST(OpenApiTest, EveryRouteIsDescribedAndEveryDescribedOperationIsRouted) {
  auto doc = nlohmann::json::parse(OpenApiDocument());
  ASSERT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  std::set<std::pair<std::string, std::string>> routed, described;
  for (auto& [method, path] : Routes()) routed.emplace(method, path);
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      described.emplace(m, path);
      EXPECT_TRUE(op.contains("responses")) << m << " " << path;
    }
  for (auto& r : routed)
    EXPECT_TRUE(described.count(r)) << "routed but not in openapi.json: " << r.first << " " << r.second;
  for (auto& d : described)
    EXPECT_TRUE(routed.count(d)) << "in openapi.json but not routed: " << d.first << " " << d.second;
  EXPECT_EQ(routed.size(), 53u);
}

TEST(OpenApiTest, SecuredOperationsNameADefinedScheme) {
  auto doc = nlohmann::json::parse(OpenApiDocument());
  auto& schemes = doc["components"]["securitySchemes"];
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items()) {
      if (!op.contains("security")) continue;
      for (auto& alt : op["security"])
        for (auto& [name, scopes] : alt.items()) {
          EXPECT_TRUE(schemes.contains(name)) << path << " " << name;
        }
    }
}

}  // namespace
}  // namespace lk::api
