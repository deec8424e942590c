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

// Every "$ref" names a defined component (the import's errors name ImportError).
TEST(OpenApiTest, EveryReferenceResolves) {
  auto doc = nlohmann::json::parse(OpenApiDocument());
  size_t refs = 0;
  auto walk = [&](auto&& self, const nlohmann::json& j) -> void {
    if (j.is_object()) {
      auto ref = j.find("$ref");
      if (ref != j.end()) {
        ++refs;
        const std::string target = ref->get<std::string>();
        ASSERT_EQ(target.rfind("#/", 0), 0u) << target;
        EXPECT_TRUE(doc.contains(nlohmann::json::json_pointer(target.substr(1)))) << target;
      }
    }
    if (j.is_structured())
      for (const auto& item : j) self(self, item);
  };
  walk(walk, doc);
  EXPECT_GT(refs, 0u);
  const auto& errors = doc["components"]["schemas"]["Problem"]["properties"]["errors"];
  EXPECT_EQ(errors["items"]["$ref"].get<std::string>(), "#/components/schemas/ImportError");
}

}  // namespace
}  // namespace lk::api
