{
  "targets": [
    {
      "target_name": "tokrs_jieba",
      "sources": ["tokrs_jieba.cc"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-std=c++17"],
      "defines": ["LOGGING_LEVEL=LL_WARNING", "NAPI_VERSION=8"],
      "include_dirs": [
        "<!(node -p \"require('path').join(require('path').dirname(require.resolve('nodejieba/package.json')), 'submodules/cppjieba/include')\")",
        "<!(node -p \"require('path').join(require('path').dirname(require.resolve('nodejieba/package.json')), 'submodules/cppjieba/deps/limonp/include')\")"
      ]
    }
  ]
}
