// msl_shim.h: just enough of the Metal Shading Language, written in C++ for clang++ (15 or newer), to run the kernels
// MetalRenderer emits on a CPU. emulator.py rewrites the parts no header can (the kernel signature, threadgroup
// declarations, vector constructors) and includes this first. It is a test tool: it proves what our MSL computes,
// not that Apple's compiler accepts it (lint.py and a Mac cover that).
#pragma once

// --- scalar types: MSL's names; long is 64 bits on both sides, half is IEEE binary16 (clang 15 rounds each op) ---
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef _Float16 half;

// --- vector types: clang's ext_vector_type gives .x/.xy swizzles, [i], elementwise operators and scalar splats ---
#define MTL_VECTORS(T)                                                                                    \
  typedef T T##2 __attribute__((ext_vector_type(2)));                                                     \
  typedef T T##3 __attribute__((ext_vector_type(3)));                                                     \
  typedef T T##4 __attribute__((ext_vector_type(4)));                                                     \
  typedef T packed_##T##2 __attribute__((ext_vector_type(2), aligned(sizeof(T))));                        \
  typedef T packed_##T##3 __attribute__((ext_vector_type(3), aligned(sizeof(T))));                        \
  typedef T packed_##T##4 __attribute__((ext_vector_type(4), aligned(sizeof(T))));
MTL_VECTORS(float)
MTL_VECTORS(half)
MTL_VECTORS(int)
MTL_VECTORS(uint)
MTL_VECTORS(short)
MTL_VECTORS(ushort)
MTL_VECTORS(char)
MTL_VECTORS(uchar)
MTL_VECTORS(long)
MTL_VECTORS(ulong)
#undef MTL_VECTORS

// (packed_float4 is float4 to C++: an alignment attribute makes no new type)
template <class T> struct mtl_elem { typedef T type; static const int lanes = 1; };
#define MTL_ELEM(T, N)                                                                                    \
  template <> struct mtl_elem<T##N> { typedef T type; static const int lanes = N; };
#define MTL_ELEMS(T) MTL_ELEM(T, 2) MTL_ELEM(T, 3) MTL_ELEM(T, 4)
MTL_ELEMS(float)
MTL_ELEMS(half)
MTL_ELEMS(int)
MTL_ELEMS(uint)
MTL_ELEMS(short)
MTL_ELEMS(ushort)
MTL_ELEMS(char)
MTL_ELEMS(uchar)
MTL_ELEMS(long)
MTL_ELEMS(ulong)
#undef MTL_ELEMS
#undef MTL_ELEM

// MSL's constructor syntax, float4(x) / float4(a, b, c, d), becomes mtl_make<float4>(...): one vector argument
// converts lane by lane, one scalar splats, one scalar per lane builds the vector.
template <class V, class A> inline V mtl_make(A a) {
  if constexpr (mtl_elem<A>::lanes > 1) {
    return __builtin_convertvector(a, V);
  } else {
    V v = (typename mtl_elem<V>::type)a;
    return v;
  }
}
template <class V, class A, class B, class... R> inline V mtl_make(A a, B b, R... r) {
  typedef typename mtl_elem<V>::type E;
  static_assert(2 + sizeof...(R) == mtl_elem<V>::lanes, "a vector constructor needs one scalar per lane");
  return V{(E)a, (E)b, (E)r...};
}

// as_type<T>(x): reinterpret the bits (same size only, as in MSL)
template <class T, class S> inline T as_type(S x) {
  static_assert(sizeof(T) == sizeof(S), "as_type between types of different sizes");
  return __builtin_bit_cast(T, x);
}

// --- constants of metal_math ---
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define MAXFLOAT 3.40282347e+38f

// --- address spaces: one flat memory on a CPU (threadgroup declarations are rewritten by emulator.py) ---
#define device
#define constant const
#define thread

// --- math: IEEE-correct libm functions stand in for precise:: and, with fast math off, for metal:: too ---
namespace metal {
#define MTL_UNARY(NAME, F32)                                                                              \
  inline float NAME(float x) { return F32(x); }                                                           \
  inline half NAME(half x) { return (half)F32((float)x); }                                                \
  template <class V, int N = mtl_elem<V>::lanes, class = typename mtl_elem<V>::type>                      \
  inline V NAME(V x) {                                                                                    \
    V r;                                                                                                  \
    for (int i = 0; i < N; i++) r[i] = NAME(x[i]);                                                        \
    return r;                                                                                             \
  }
#define MTL_FUNCTIONS                                                                                     \
  MTL_UNARY(exp2, __builtin_exp2f)                                                                        \
  MTL_UNARY(log2, __builtin_log2f)                                                                        \
  MTL_UNARY(sin, __builtin_sinf)                                                                          \
  MTL_UNARY(cos, __builtin_cosf)                                                                          \
  MTL_UNARY(sqrt, __builtin_sqrtf)                                                                        \
  MTL_UNARY(trunc, __builtin_truncf)                                                                      \
  inline float fmod(float x, float y) { return __builtin_fmodf(x, y); }                                   \
  inline half fmod(half x, half y) { return (half)__builtin_fmodf((float)x, (float)y); }
MTL_FUNCTIONS
namespace precise {
MTL_FUNCTIONS
}
namespace fast {
MTL_FUNCTIONS
}
#undef MTL_FUNCTIONS
#undef MTL_UNARY
inline float max(float a, float b) { return __builtin_fmaxf(a, b); }  // MSL: a NaN operand gives the other one
inline float min(float a, float b) { return __builtin_fminf(a, b); }
template <class T> inline T select(T a, T b, bool c) { return c ? b : a; }

// threadgroup_barrier(mem_flags::mem_threadgroup): every lane of the group waits here (see mtl_dispatch.cpp)
enum class mem_flags { mem_none = 0, mem_device = 1, mem_threadgroup = 2, mem_texture = 4 };
}  // namespace metal

// --- what the generated glue (emulator.py) uses ---
typedef void (*mtl_barrier_fn)(int line);
static mtl_barrier_fn mtl_barrier_hook;
#define threadgroup_barrier(flags) ((void)(flags), mtl_barrier_hook(__LINE__))

// The first out-of-bounds access of a launch, reported by mtl_error(); the access itself reads a zero and the write
// goes nowhere, so one bad index fails the test instead of corrupting the Python process.
static char mtl_error_text[512];
static int mtl_error_count;

template <class T> struct mtl_unconst { typedef T type; };
template <class T> struct mtl_unconst<const T> { typedef T type; };

template <class T> struct mtl_buffer {
  T *ptr;
  long size;  // elements
  const char *name;
  T &operator[](long i) const {
    if (i < 0 || i >= size) {
      if (mtl_error_count++ == 0)
        __builtin_snprintf(mtl_error_text, sizeof mtl_error_text,
                           "%s[%ld] is out of bounds (the buffer has %ld elements)", name, i, size);
      static typename mtl_unconst<T>::type scratch;
      scratch = {};
      return scratch;
    }
    return ptr[i];
  }
  T *operator+(long i) const {  // where a vector access starts: its first element must be in bounds
    (void)(*this)[i];
    return ptr + (i >= 0 && i < size ? i : 0);
  }
};
