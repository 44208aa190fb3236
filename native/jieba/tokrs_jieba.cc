// tokrs's own binding of cppjieba, the segmenter inside nodejieba (same headers, same dictionaries, taken
// from the installed nodejieba package), that does the tokenize stage's work after normalisation in one
// call: segment, join the single-character ASCII runs nodejieba splits, drop blank tokens, cut to
// maxTokens, hash every token (and bigram) with MurmurHash3 into bucket/sign codes, and sort the codes.
//
// Why: through nodejieba's binding, the tokens cross into JavaScript one napi string at a time and are
// hashed there; the JS-side work after the cut cost about a quarter of the cut itself (issue 3). Here the
// tokens come back as one string (split in JS) and the codes as integers, so JavaScript only merges
// duplicates and weighs. src/tokenize/native-jieba.ts says what each step must equal on the JS side, and
// test/tokenize/native-jieba.test.ts checks that this path and the JS path agree.
#include <node_api.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cppjieba/Jieba.hpp"

namespace {

struct Instance {
  cppjieba::Jieba* jieba = nullptr;
  std::string text;                 // the UTF-8 text of the current call
  std::vector<std::string> raw;     // cppjieba's tokens
  std::vector<std::string> tokens;  // after joining, filtering and cutting
  std::string joined;               // tokens joined by U+0000, returned to JS
  std::string bigram;               // scratch for "a \x01 b"
  std::vector<uint32_t> codes;
};

// MurmurHash3_x86_32 (Austin Appleby, SMHasher), as src/features/murmur3.ts computes it over UTF-8 bytes.
inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

uint32_t murmur3(const unsigned char* data, size_t len, uint32_t seed) {
  const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
  uint32_t h = seed;
  const size_t blocks = len / 4;
  for (size_t i = 0; i < blocks; i++) {
    uint32_t k = uint32_t(data[4 * i]) | (uint32_t(data[4 * i + 1]) << 8) | (uint32_t(data[4 * i + 2]) << 16) |
                 (uint32_t(data[4 * i + 3]) << 24);
    k *= c1;
    k = rotl32(k, 15);
    k *= c2;
    h ^= k;
    h = rotl32(h, 13);
    h = h * 5 + 0xe6546b64;
  }
  const unsigned char* tail = data + blocks * 4;
  uint32_t k = 0;
  switch (len & 3) {
    case 3: k ^= uint32_t(tail[2]) << 16; [[fallthrough]];
    case 2: k ^= uint32_t(tail[1]) << 8; [[fallthrough]];
    case 1:
      k ^= tail[0];
      k *= c1;
      k = rotl32(k, 15);
      k *= c2;
      h ^= k;
  }
  h ^= uint32_t(len);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

// What isBlank in src/tokenize/create-tokenizer.ts says of the same token: every UTF-16 code unit is
// ECMAScript WhiteSpace or LineTerminator. A 4-byte sequence is a surrogate pair there: never blank.
bool isBlank(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    uint32_t c;
    size_t len;
    if (b < 0x80) {
      c = b;
      len = 1;
    } else if ((b >> 5) == 6 && i + 1 < n) {
      c = ((b & 0x1fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3fu);
      len = 2;
    } else if ((b >> 4) == 14 && i + 2 < n) {
      c = ((b & 0x0fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3fu) << 6) |
          (static_cast<unsigned char>(s[i + 2]) & 0x3fu);
      len = 3;
    } else {
      return false;
    }
    i += len;
    if (c == 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
    if (c < 0xa0) return false;
    if (c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029) continue;
    if (c == 0x202f || c == 0x205f || c == 0x3000 || c == 0xfeff) continue;
    return false;
  }
  return true;
}

inline bool isAsciiAlnumToken(const std::string& s) {
  if (s.size() != 1) return false;
  const char c = s[0];
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

napi_value throwError(napi_env env, const char* message) {
  napi_throw_error(env, "TOKRS_ERR_TOKENIZE", message);
  return nullptr;
}

Instance* instanceOf(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<Instance*>(data);
}

bool stringArg(napi_env env, napi_value value, std::string& out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
  out.assign(length, '\0');
  return napi_get_value_string_utf8(env, value, out.data(), length + 1, &length) == napi_ok;
}

// No C++ exception may unwind into N-API (the process would terminate): every entry point catches them
// and throws a JavaScript error instead.

// load(dict, hmmModel, userDict, idf, stopWords): the five paths nodejieba's load() takes. cppjieba aborts
// the process on a file it cannot open, so the caller checks the paths first.
napi_value Load(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 5) {
    return throwError(env, "load takes 5 paths");
  }
  try {
    std::string paths[5];
    for (int i = 0; i < 5; i++) {
      if (!stringArg(env, argv[i], paths[i])) return throwError(env, "load: every path must be a string");
    }
    // Built before the old one goes, so a failure leaves the thread's dictionary as it was.
    auto* fresh = new cppjieba::Jieba(paths[0], paths[1], paths[2], paths[3], paths[4]);
    Instance* instance = instanceOf(env);
    delete instance->jieba;
    instance->jieba = fresh;
  } catch (const std::exception& e) {
    return throwError(env, e.what());
  }
  return nullptr;
}

bool typedArray(napi_env env, napi_value value, napi_typedarray_type want, size_t* length, void** data) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(env, value, &type, length, data, nullptr, nullptr) == napi_ok && type == want;
}

// The work of analyze, once its arguments are read (see below).
napi_value AnalyzeText(napi_env env, Instance* instance, napi_value text16, const uint32_t* numbers, uint32_t* codeData,
                       size_t codeCapacity, int32_t* out) {
  const uint32_t utf16Length = numbers[0], flags = numbers[1], maxTokens = numbers[2], seed = numbers[3],
                 signSeed = numbers[4], mask = numbers[5];
  // One UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair, 2 units, is 4): one call, no sizing pass.
  std::string& text = instance->text;
  text.resize(size_t(utf16Length) * 3 + 1);
  size_t length = 0;
  if (napi_get_value_string_utf8(env, text16, text.data(), text.size(), &length) != napi_ok) {
    return throwError(env, "analyze: text must be a string");
  }
  text.resize(length);

  const uint32_t mode = flags & 3;
  const bool hmm = flags & 4, join = flags & 8, sign = flags & 16, bigrams = flags & 32, segmentOnly = flags & 64,
             countOnly = flags & 128;
  std::vector<std::string>& raw = instance->raw;
  raw.clear();
  if (mode == 0) instance->jieba->Cut(text, raw, hmm);
  else if (mode == 1) instance->jieba->CutForSearch(text, raw, hmm);
  else if (mode == 2) instance->jieba->CutAll(text, raw);
  else instance->jieba->CutHMM(text, raw);

  std::vector<std::string>& tokens = instance->tokens;
  tokens.clear();
  bool previousAscii = false;
  for (const std::string& token : raw) {
    const bool ascii = join && isAsciiAlnumToken(token);
    // The previous token was a one-character ASCII word, so it was kept and is tokens.back(): extend it.
    if (ascii && previousAscii) tokens.back() += token;
    else if (segmentOnly || !isBlank(token)) tokens.push_back(token);
    previousAscii = ascii;
  }
  uint32_t dropped = 0;
  if (!segmentOnly && tokens.size() > maxTokens) {
    dropped = uint32_t(tokens.size() - maxTokens);
    tokens.resize(maxTokens);
  }

  std::vector<uint32_t>& codes = instance->codes;
  codes.clear();
  auto code = [&](const std::string& term) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(term.data());
    const uint32_t bucket = murmur3(bytes, term.size(), seed) & mask;
    const uint32_t signBit = sign ? murmur3(bytes, term.size(), signSeed) & 1u : 0u;
    codes.push_back(bucket * 2 + signBit);
  };
  if (!segmentOnly) {
    for (const std::string& token : tokens) code(token);
    if (bigrams) {
      std::string& pair = instance->bigram;
      for (size_t i = 1; i < tokens.size(); i++) {
        pair.assign(tokens[i - 1]);
        pair.push_back('\x01');
        pair.append(tokens[i]);
        code(pair);
      }
    }
  }
  std::sort(codes.begin(), codes.end());
  // Overlapping words (search and full modes) can outnumber the characters: an array too small for the
  // codes gets none, and the caller fetches them with copyCodes after growing it to info[1].
  if (!codes.empty() && codes.size() <= codeCapacity) std::memcpy(codeData, codes.data(), codes.size() * sizeof(uint32_t));

  std::string& joined = instance->joined;
  joined.clear();
  for (size_t i = 0; i < tokens.size() && !countOnly; i++) {
    if (i > 0) joined.push_back('\0');
    joined.append(tokens[i]);
  }
  out[0] = int32_t(tokens.size());
  out[1] = int32_t(codes.size());
  out[2] = int32_t(dropped);
  napi_value result = nullptr;
  if (napi_create_string_utf8(env, joined.data(), joined.size(), &result) != napi_ok) {
    return throwError(env, "analyze: could not create the tokens string");
  }
  return result;
}

// analyze(text, utf16Length, flags, maxTokens, seed, signSeed, mask, codes: Uint32Array, info: Int32Array)
//   flags: bits 0-1 the mode (0 cut, 1 cutForSearch, 2 cutAll, 3 cutHMM), 4 hmm, 8 join ASCII runs,
//   16 signed, 32 bigrams, 64 segment only (no filter, no maxTokens, no codes: nodejieba's cut + join),
//   128 count only (the tokens are counted and hashed, not returned: '' comes back)
//   → the kept tokens joined by U+0000 ('' when none; so the text must hold no U+0000, which normalisation
//     guarantees); info[0] = tokens kept, info[1] = codes (sorted; in `codes` only when they fit, else
//     fetched by copyCodes), info[2] = tokens dropped beyond maxTokens.
napi_value Analyze(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 9) {
    return throwError(env, "analyze takes 9 arguments");
  }
  Instance* instance = instanceOf(env);
  if (instance->jieba == nullptr) return throwError(env, "analyze before load");
  uint32_t numbers[6] = {0, 0, 0, 0, 0, 0};  // utf16Length, flags, maxTokens, seed, signSeed, mask
  for (int i = 0; i < 6; i++) {
    if (napi_get_value_uint32(env, argv[1 + i], &numbers[i]) != napi_ok) {
      return throwError(env, "analyze: arguments 2 to 7 must be numbers");
    }
  }
  size_t codeCapacity = 0, infoLength = 0;
  void* codeData = nullptr;
  void* infoData = nullptr;
  if (!typedArray(env, argv[7], napi_uint32_array, &codeCapacity, &codeData)) {
    return throwError(env, "analyze: codes must be a Uint32Array");
  }
  if (!typedArray(env, argv[8], napi_int32_array, &infoLength, &infoData) || infoLength < 3) {
    return throwError(env, "analyze: info must be an Int32Array of 3");
  }
  try {
    return AnalyzeText(env, instance, argv[0], numbers, static_cast<uint32_t*>(codeData), codeCapacity,
                       static_cast<int32_t*>(infoData));
  } catch (const std::exception& e) {
    return throwError(env, e.what());
  }
}

// copyCodes(codes: Uint32Array, expectedCount): the sorted codes of the thread's last analyze, for when its
// array was too small (info[1] > its length); the caller grows the array to info[1] first. expectedCount is
// that info[1]: should another analyze ever come between the two calls, this fails instead of copying its codes.
napi_value CopyCodes(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 2) {
    return throwError(env, "copyCodes takes 2 arguments");
  }
  uint32_t expected = 0;
  if (napi_get_value_uint32(env, argv[1], &expected) != napi_ok) return throwError(env, "copyCodes: expectedCount must be a number");
  size_t capacity = 0;
  void* data = nullptr;
  if (!typedArray(env, argv[0], napi_uint32_array, &capacity, &data)) return throwError(env, "copyCodes: codes must be a Uint32Array");
  const std::vector<uint32_t>& codes = instanceOf(env)->codes;
  if (codes.size() != expected) return throwError(env, "copyCodes: these are not the codes of the analyze just before");
  if (codes.size() > capacity) return throwError(env, "copyCodes: codes array too small");
  if (!codes.empty()) std::memcpy(data, codes.data(), codes.size() * sizeof(uint32_t));
  return nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  Instance* instance = new Instance();
  napi_set_instance_data(
      env, instance,
      [](napi_env, void* data, void*) {
        Instance* i = static_cast<Instance*>(data);
        delete i->jieba;
        delete i;
      },
      nullptr);
  napi_property_descriptor properties[] = {
      {"load", nullptr, Load, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"analyze", nullptr, Analyze, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"copyCodes", nullptr, CopyCodes, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, 3, properties);
  return exports;
}
