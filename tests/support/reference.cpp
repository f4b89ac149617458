// Parser for the reference file format described in tests/reference/refcase.py.
#include "support/reference.h"

#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "core/factory.h"

namespace kiln::test {

namespace {

DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "float32") return kFloat32;
  if (s == "float64") return kFloat64;
  if (s == "int64") return kInt64;
  if (s == "uint8") return kUInt8;
  if (s == "bool") return kBool;
  KILN_FAIL(where, ": unknown dtype '", s, "'");
}

Tensor parse_tensor(std::istringstream& in, const std::string& where) {
  std::string dtype_name;
  int64_t ndim = -1;
  in >> dtype_name >> ndim;
  KILN_CHECK(in && ndim >= 0 && ndim <= 16, where, ": bad tensor header");
  DType dtype = parse_dtype(dtype_name, where);
  Shape shape(size_t(ndim), 0);
  for (auto& d : shape) {
    in >> d;
    KILN_CHECK(in && d >= 0, where, ": bad dims");
  }
  std::vector<double> values(size_t(numel_of(shape)));
  for (auto& v : values) {
    std::string tok;
    in >> tok;
    KILN_CHECK(in, where, ": expected ", values.size(), " values");
    v = tok == "nan" ? NAN : tok == "inf" ? INFINITY : tok == "-inf" ? -INFINITY : std::stod(tok);
  }
  return tensor(values, shape, TensorOptions(dtype));
}

void set_at(TensorList& list, size_t index, Tensor t) {
  if (list.size() <= index) list.resize(index + 1);
  list[index] = std::move(t);
}

std::vector<RefCase> load(const std::string& family) {
  std::string path = std::string(KILN_REFERENCE_DIR) + "/" + family + ".txt";
  std::ifstream file(path);
  KILN_CHECK(file.good(), "reference: cannot open ", path,
             " (regenerate with python3 tests/reference/gen_reference.py ", family, ")");
  std::vector<RefCase> cases;
  std::string line;
  int lineno = 0;
  RefCase* current = nullptr;
  while (std::getline(file, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::string where = path + ":" + std::to_string(lineno);
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "case") {
      cases.emplace_back();
      current = &cases.back();
      in >> current->name;
      std::string flag;
      while (in >> flag) {
        auto eq = flag.find('=');
        KILN_CHECK(eq != std::string::npos, where, ": bad flag '", flag, "'");
        std::string key = flag.substr(0, eq), value = flag.substr(eq + 1);
        if (key == "grad") current->grad = value == "1";
        else if (key == "gradcheck") current->gradcheck = value == "1";
        else if (key == "gradgradcheck") current->gradgradcheck = value == "1";
        else if (key == "noncontig") current->noncontig = value == "1";
        else if (key == "rtol") current->rtol = std::stod(value);
        else if (key == "atol") current->atol = std::stod(value);
        else KILN_FAIL(where, ": unknown flag '", key, "'");
      }
      continue;
    }
    KILN_CHECK(current != nullptr, where, ": '", kind, "' before any 'case'");
    if (kind == "end") {
      current = nullptr;
      continue;
    }
    size_t index = 0;
    in >> index;
    KILN_CHECK(in && index < 64, where, ": bad index");
    Tensor t = parse_tensor(in, where);
    if (kind == "input") set_at(current->inputs, index, t);
    else if (kind == "output") set_at(current->outputs, index, t);
    else if (kind == "gout") set_at(current->gouts, index, t);
    else if (kind == "grad") set_at(current->grads, index, t);
    else KILN_FAIL(where, ": unknown record '", kind, "'");
  }
  return cases;
}

}  // namespace

const std::vector<RefCase>& reference_cases(const std::string& family) {
  static std::mutex mutex;
  static std::map<std::string, std::vector<RefCase>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(family);
  if (it == cache.end()) it = cache.emplace(family, load(family)).first;
  return it->second;
}

const RefCase& reference_case(const std::string& family, const std::string& name) {
  for (const RefCase& c : reference_cases(family))
    if (c.name == name) return c;
  KILN_FAIL("reference: no case '", name, "' in family '", family, "'");
}

std::vector<std::string> reference_case_names(const std::string& family, CaseFilter filter) {
  // Called while tests are being registered, before main: a missing or malformed file
  // must not abort the binary, so it becomes one case whose lookup fails loudly.
  std::vector<std::string> names;
  try {
    for (const RefCase& c : reference_cases(family))
      if (filter == CaseFilter::All || (filter == CaseFilter::Gradcheck && c.gradcheck) ||
          (filter == CaseFilter::Gradgradcheck && c.gradgradcheck))
        names.push_back(c.name);
  } catch (const std::exception&) {
    names.push_back("unreadable_reference_file");
  }
  return names;
}

}  // namespace kiln::test
