/* charrnn's fused kernels: everything between one step's matmuls, in one pass.
 *
 * The numpy cells (core/cells/tanh.py, gru.py, lstm.py) are the reference: each
 * kernel below names the numpy lines and the equations (T1, F1.., B1..) it fuses,
 * and tests/core/test_kernels.py proves it equal to them. Per cell: a forward step
 * (after the step's matmul), a full-BPTT backward step and a sliding-window step
 * (before the matmul); the naive rule, with nothing carried from step to step,
 * calls the backward step once per layer over all T*B rows. The loops over time
 * (SEQUENCES, at the end) run forward and full BPTT's backward over all T steps in
 * one call, each step's matmul through the gemm of numpy's own BLAS, whose address
 * Python passes in; where it is not found, Python loops, calling np.dot and the step
 * functions through ctypes. Arrays are C-contiguous unless a row stride (ld..) is
 * given; sizes and strides count elements.
 *
 * Vector math: glibc's libmvec. The redeclarations below with the `simd` attribute
 * are what glibc's <bits/math-vector.h> declares under -ffast-math alone; declaring
 * them here lets gcc -O3 -fopenmp-simd vectorise the loops into calls of the SIMD
 * variants (_ZGVeN16v_expf on AVX-512, _ZGVdN8v_expf on AVX2) while keeping IEEE
 * semantics: no -ffast-math, so e^-x may overflow to inf and 1 / (1 + inf) = 0 is
 * the saturated gate's exact limit, as in the numpy cells.
 *
 * Every function comes twice, for float and double (the gradient checks' dtype):
 * the macro KERNELS(T, SFX, EXP, TANH, SQRT) writes one set.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifndef CHARRNN_NO_MVEC /* the build's fallback where libmvec is missing: scalar calls */
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float tanhf(float);
__attribute__((simd("notinbranch"))) double exp(double);
__attribute__((simd("notinbranch"))) double tanh(double);
#endif

#define KERNELS(T, SFX, EXP, TANH, SQRT)                                                  \
                                                                                          \
/* tanh cell, forward step (tanh.py TanhCell._recur after its np.dot):                    \
 *     out += pre_t; np.tanh(out, out=out)                          (T1)                  \
 * a (B, H) holds h_{t-1} Whh^T on entry, row stride lda; h_t is written over it. */      \
void rnn_forward_##SFX(ptrdiff_t B, ptrdiff_t H, const T *restrict pre, T *restrict a,    \
                       ptrdiff_t lda)                                                     \
{                                                                                         \
    for (ptrdiff_t b = 0; b < B; b++) {                                                   \
        const T *restrict p = pre + b * H;                                                \
        T *restrict o = a + b * lda;                                                      \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++)                                                 \
            o[j] = TANH(o[j] + p[j]);                                                     \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* tanh cell, one step of full BPTT before its matmul (tanh.py TanhCell.backward's full   \
 * loop: `d = dhraw[t]; d += dhnext; d *= dtanh[t]`, with dtanh = 1 - h^2 of the step):   \
 *     dh    = dout_t + dhnext                                      (B1)                  \
 *     dhraw = (1 - h_t^2) * dh                                     (B2)                  \
 * d (B, H) holds dout_t on entry and dhraw on exit; (B3) follows, in rnn_backward_seq    \
 * (or Python's loop). dhnext NULL is the naive rule's dhnext = 0 (`dhraw *= dtanh`):     \
 * all T steps at once, T*B rows. */                                                      \
void rnn_backward_##SFX(ptrdiff_t B, ptrdiff_t H, T *restrict d,                          \
                        const T *restrict dhnext, const T *restrict h)                    \
{                                                                                         \
    if (!dhnext) {                                                                        \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < B * H; j++)                                             \
            d[j] *= (T)1 - h[j] * h[j];                                                   \
        return;                                                                           \
    }                                                                                     \
    _Pragma("omp simd")                                                                   \
    for (ptrdiff_t j = 0; j < B * H; j++)                                                 \
        d[j] = (d[j] + dhnext[j]) * ((T)1 - h[j] * h[j]);                                 \
}                                                                                         \
                                                                                          \
/* GRU, one step of full BPTT before its matmul (gru.py GRUCell.backward's full loop:     \
 * `dh = dout[t]; dh += dhnext`, _factors, and _back_step but its np.dot):                \
 *     dh     = dout_t + dhnext                                     (B1)                  \
 *     dn_raw = dh * (1 - z) * (1 - n^2)                            (B2)                  \
 *     dhn    = dn_raw * r                                          (B3)                  \
 *     dr_raw = dn_raw * hn * r (1 - r)                             (B4)                  \
 *     dz_raw = dh * (h - n) * z (1 - z)                            (B5)                  \
 * and the `+ dh * z` of (B6), kept in carry (B, H) until the next step adds it to the    \
 * matmul's part of dhnext (on entry: the step after's; on exit: this step's).            \
 * acts (B, 3H) = [r | z | n], hn, h (the step's previous state), dout, dhnext (B, H);    \
 * dgh (B, 3H) receives [dr_raw | dz_raw | dhn] and dpre (B, 3H) [dr_raw | dz_raw |       \
 * dn_raw]. dhnext = dgh Wh follows, in gru_backward_seq (or Python's loop). dhnext and   \
 * carry NULL: the naive rule (nothing from the step after, no (B6)), over all T steps    \
 * at once as B = T*B rows. */                                                            \
static inline __attribute__((always_inline)) void                                         \
gru_back_rows_##SFX(ptrdiff_t B, ptrdiff_t H, const T *restrict dout,                     \
                    const T *restrict dhnext, T *restrict carry, const T *restrict acts,  \
                    const T *restrict hn, const T *restrict h, T *restrict dgh,           \
                    T *restrict dpre, const int full)                                     \
{                                                                                         \
    for (ptrdiff_t b = 0; b < B; b++) {                                                   \
        const T *restrict r = acts + b * 3 * H, *restrict z = r + H, *restrict n = r + 2 * H; \
        T *restrict dg = dgh + b * 3 * H, *restrict dp = dpre + b * 3 * H;                \
        ptrdiff_t o = b * H;                                                              \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            T rv = r[j], zv = z[j], nv = n[j];                                            \
            T dh = dout[o + j] + (full ? dhnext[o + j] + carry[o + j] : (T)0);            \
            T dn = dh * ((T)1 - zv) * ((T)1 - nv * nv);                                   \
            T dr = dn * (hn[o + j] * (rv * ((T)1 - rv)));                                 \
            T dz = dh * (h[o + j] - nv) * (zv * ((T)1 - zv));                             \
            dg[j] = dr;                                                                   \
            dg[H + j] = dz;                                                               \
            dg[2 * H + j] = dn * rv;                                                      \
            dp[j] = dr;                                                                   \
            dp[H + j] = dz;                                                               \
            dp[2 * H + j] = dn;                                                           \
            if (full)                                                                     \
                carry[o + j] = dh * zv;                                                   \
        }                                                                                 \
    }                                                                                     \
}                                                                                         \
                                                                                          \
void gru_backward_##SFX(ptrdiff_t B, ptrdiff_t H, const T *restrict dout,                 \
                        const T *restrict dhnext, T *restrict carry,                      \
                        const T *restrict acts, const T *restrict hn,                     \
                        const T *restrict h, T *restrict dgh, T *restrict dpre)           \
{ /* one loop specialised for each rule: nothing tested per element */                    \
    if (dhnext)                                                                           \
        gru_back_rows_##SFX(B, H, dout, dhnext, carry, acts, hn, h, dgh, dpre, 1);        \
    else                                                                                  \
        gru_back_rows_##SFX(B, H, dout, NULL, NULL, acts, hn, h, dgh, dpre, 0);           \
}                                                                                         \
                                                                                          \
/* The sliding window (base.py GradientWindow): each cell's window kernel takes one step  \
 * t of its backward loop, `win.arrive(t, ...)` included: the loss at t enters the ring   \
 * `parts` (P, B, S) in slot `s` = t mod P, the total over the parts is the gradient at   \
 * the step (B1) that the parameters see, and every part goes through the step's          \
 * element-wise factors before the hop's matmul, which Python does on all parts at once. */ \
                                                                                          \
/* tanh cell (tanh.py TanhCell.backward's window loop: `d = win.arrive(t, dhraw[t]);      \
 * d *= dtanh[t]; win.parts *= dtanh[t]`, before (B3)'s matmul on the parts):             \
 * d (B, H) holds dout_t on entry and dhraw of the step (B2) on exit; h = h_t. */         \
void rnn_window_##SFX(ptrdiff_t P, ptrdiff_t B, ptrdiff_t H, T *restrict parts,           \
                      ptrdiff_t s, T *restrict d, const T *restrict h)                    \
{                                                                                         \
    ptrdiff_t N = B * H;                                                                  \
    for (ptrdiff_t j = 0; j < N; j++)                                                     \
        parts[s * N + j] = d[j];                                                          \
    for (ptrdiff_t j = 0; j < N; j++)                                                     \
        d[j] = 0;                                                                         \
    for (ptrdiff_t p = 0; p < P; p++) {                                                   \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < N; j++)                                                 \
            d[j] += parts[p * N + j];                     /* (B1) over the window */      \
    }                                                                                     \
    for (ptrdiff_t p = 0; p < P; p++) {                                                   \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < N; j++)                                                 \
            parts[p * N + j] *= (T)1 - h[j] * h[j];      /* every part through (B2) */    \
    }                                                                                     \
    _Pragma("omp simd")                                                                   \
    for (ptrdiff_t j = 0; j < N; j++)                                                     \
        d[j] *= (T)1 - h[j] * h[j];                       /* (B2) */                      \
}                                                                                         \
                                                                                          \
/* GRU (gru.py GRUCell.backward's window loop: `dh = win.arrive(t, dout[t])`, then        \
 * _back_step without the hop on dh and with it on every part, but for the matmul and     \
 * the `+ dh z` of (B6), which Python adds from carry): dout (B, H) holds dout_t on       \
 * entry and the windowed total on exit; dgh, dpre (B, 3H) as gru_backward writes them;   \
 * pg (P, B, 3H) each part's [dr_raw | dz_raw | dhn], carry (P, B, H) each part's dh z. */ \
void gru_window_##SFX(ptrdiff_t P, ptrdiff_t B, ptrdiff_t H, T *restrict parts,           \
                      ptrdiff_t s, T *restrict dout, const T *restrict acts,              \
                      const T *restrict hn, const T *restrict h, T *restrict dgh,         \
                      T *restrict dpre, T *restrict pg, T *restrict carry)                \
{                                                                                         \
    ptrdiff_t N = B * H;                                                                  \
    for (ptrdiff_t j = 0; j < N; j++)                                                     \
        parts[s * N + j] = dout[j];                                                       \
    for (ptrdiff_t j = 0; j < N; j++)                                                     \
        dout[j] = 0;                                                                      \
    for (ptrdiff_t p = 0; p < P; p++) {                                                   \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < N; j++)                                                 \
            dout[j] += parts[p * N + j];                  /* (B1) over the window */      \
    }                                                                                     \
    for (ptrdiff_t q = -1; q < P; q++) {  /* q = -1: the total; q >= 0: part q */         \
        const T *restrict src = q < 0 ? dout : parts + q * N;                             \
        for (ptrdiff_t b = 0; b < B; b++) {                                               \
            const T *restrict r = acts + b * 3 * H, *restrict z = r + H, *restrict n = r + 2 * H; \
            T *restrict dg = (q < 0 ? dgh : pg + q * B * 3 * H) + b * 3 * H;              \
            ptrdiff_t o = b * H;                                                          \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < H; j++) {                                           \
                T rv = r[j], zv = z[j], nv = n[j], dh = src[o + j];                       \
                T dn = dh * ((T)1 - zv) * ((T)1 - nv * nv);          /* (B2) */           \
                T dr = dn * (hn[o + j] * (rv * ((T)1 - rv)));        /* (B4) */           \
                T dz = dh * (h[o + j] - nv) * (zv * ((T)1 - zv));    /* (B5) */           \
                dg[j] = dr;                                                               \
                dg[H + j] = dz;                                                           \
                dg[2 * H + j] = dn * rv;                             /* (B3) */           \
                if (q < 0) {                                                              \
                    T *restrict dp = dpre + b * 3 * H;                                    \
                    dp[j] = dr;                                                           \
                    dp[H + j] = dz;                                                       \
                    dp[2 * H + j] = dn;                                                   \
                } else {                                                                  \
                    carry[q * N + o + j] = dh * zv;                  /* (B6)'s dh z */    \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* LSTM (lstm.py LSTMCell.backward's window loop: `enter = [dout_t | 0]; d =              \
 * win.arrive(t, enter)`, then _back_step without the hop on d and with it on every       \
 * part, but for (B6)'s matmul): parts (P, B, 2H) = [dh | dc] each; dout_t (B, H);        \
 * dpre (B, 4H) the step's d pre from the total; pa (P, B, 4H) each part's d pre, for     \
 * the hop; each part's dc leaves as its dcnext (B5). c = the step's previous cell. */    \
void lstm_window_##SFX(ptrdiff_t P, ptrdiff_t B, ptrdiff_t H, T *restrict parts,          \
                       ptrdiff_t s, const T *restrict dout, const T *restrict act,        \
                       const T *restrict c, const T *restrict tc, T *restrict dpre,       \
                       T *restrict pa, T *restrict total)                                 \
{                                                                                         \
    ptrdiff_t N = B * 2 * H;                                                              \
    for (ptrdiff_t b = 0; b < B; b++)                                                     \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            parts[s * N + b * 2 * H + j] = dout[b * H + j];  /* the loss reaches h_t */   \
            parts[s * N + b * 2 * H + H + j] = 0;            /* only */                   \
        }                                                                                 \
    for (ptrdiff_t j = 0; j < N; j++)                                                     \
        total[j] = 0;                                                                     \
    for (ptrdiff_t p = 0; p < P; p++) {                                                   \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < N; j++)                                                 \
            total[j] += parts[p * N + j];                 /* (B1) over the window */      \
    }                                                                                     \
    for (ptrdiff_t q = -1; q < P; q++) {  /* q = -1: the total; q >= 0: part q */         \
        T *restrict src = q < 0 ? total : parts + q * N;                                  \
        T *restrict da = q < 0 ? dpre : pa + q * B * 4 * H;                               \
        for (ptrdiff_t b = 0; b < B; b++) {                                               \
            const T *restrict ac = act + b * 4 * H;                                       \
            T *restrict dh = src + b * 2 * H, *restrict dcn = dh + H;                     \
            T *restrict d = da + b * 4 * H;                                               \
            ptrdiff_t r = b * H;                                                          \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < H; j++) {                                           \
                T i = ac[j], f = ac[H + j], g = ac[2 * H + j], o = ac[3 * H + j];         \
                T t = tc[r + j], dhv = dh[j];                                             \
                T dc = dcn[j] + dhv * (o * ((T)1 - t * t));                  /* (B2) */   \
                d[j] = dc * (g * (i * ((T)1 - i)));                          /* (B3) */   \
                d[H + j] = dc * (c[r + j] * (f * ((T)1 - f)));                            \
                d[2 * H + j] = dc * (i * ((T)1 - g * g));                                 \
                d[3 * H + j] = dhv * (t * (o * ((T)1 - o)));                 /* (B4) */   \
                dcn[j] = dc * f;                                             /* (B5) */   \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* GRU, forward step (gru.py GRUCell._recur after its np.dot), on unscaled inputs:        \
 *     [r | z] = 1 / (1 + e^-(pre_rz + g_rz))                        (F1), (F2)           \
 *     hn = g_n + bhn                                                (F3)                 \
 *     n = tanh(pre_n + r * hn)                                      (F4)                 \
 *     h' = n + z * (h - n)                                          (F5)                 \
 * pre, g (B, 3H); acts (B, 3H) receives [r | z | n] and hn (B, H) the candidate's        \
 * recurrent part, the numpy forward's cache; h (row stride ldh) -> out (ldo). */         \
void gru_forward_##SFX(ptrdiff_t B, ptrdiff_t H, const T *restrict pre,                   \
                       const T *restrict g, const T *restrict bhn, const T *h,            \
                       ptrdiff_t ldh, T *restrict acts, T *restrict hn, T *out,           \
                       ptrdiff_t ldo)                                                     \
{                                                                                         \
    for (ptrdiff_t b = 0; b < B; b++) {                                                   \
        const T *restrict p = pre + b * 3 * H, *restrict gb = g + b * 3 * H;              \
        const T *hb = h + b * ldh;                                                        \
        T *restrict r = acts + b * 3 * H, *restrict z = r + H, *restrict n = r + 2 * H;   \
        T *restrict hnb = hn + b * H;                                                     \
        T *ob = out + b * ldo;                                                            \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < 2 * H; j++)                                             \
            r[j] = (T)1 / ((T)1 + EXP(-(p[j] + gb[j])));  /* r, z: e^-x = inf -> 0 */     \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            T hv = gb[2 * H + j] + bhn[j];                                                \
            T nv = TANH(p[2 * H + j] + r[j] * hv);                                        \
            hnb[j] = hv;                                                                  \
            n[j] = nv;                                                                    \
            ob[j] = nv + z[j] * (hb[j] - nv);                                             \
        }                                                                                 \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* LSTM, forward step (lstm.py LSTMCell._recur after its np.dot), on unscaled inputs:     \
 *     i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o); g = tanh(a_g)   (F1)           \
 *     c' = f * c + i * g                                                  (F2)           \
 *     h' = o * tanh(c')                                                   (F3)           \
 * with a = pre + h Wh^T: pre, a (B, 4H); act (B, 4H) receives [i | f | g | o] and        \
 * tc (B, H) tanh(c'), the numpy forward's cache; c (row stride ldc) -> c_out (ldco),     \
 * h_out (ldh). The numpy cell's scaling of pre and Wh^T by -1, -2 (to feed one exp)      \
 * is not needed here: each gate takes its own function. */                               \
void lstm_forward_##SFX(ptrdiff_t B, ptrdiff_t H, const T *restrict pre,                  \
                        const T *restrict a, const T *c, ptrdiff_t ldc,                   \
                        T *restrict act, T *restrict tc, T *h_out, ptrdiff_t ldh,         \
                        T *c_out, ptrdiff_t ldco)                                         \
{                                                                                         \
    for (ptrdiff_t b = 0; b < B; b++) {                                                   \
        const T *restrict p = pre + b * 4 * H, *restrict ab = a + b * 4 * H;              \
        const T *cb = c + b * ldc;                                                        \
        T *restrict ac = act + b * 4 * H, *restrict tcb = tc + b * H;                     \
        T *hb = h_out + b * ldh, *cob = c_out + b * ldco;                                 \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < 2 * H; j++)     /* i, f */                              \
            ac[j] = (T)1 / ((T)1 + EXP(-(p[j] + ab[j])));                                 \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 2 * H; j < 3 * H; j++) /* g */                                 \
            ac[j] = TANH(p[j] + ab[j]);                                                   \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 3 * H; j < 4 * H; j++) /* o */                                 \
            ac[j] = (T)1 / ((T)1 + EXP(-(p[j] + ab[j])));                                 \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            T cv = ac[H + j] * cb[j] + ac[j] * ac[2 * H + j];                             \
            T t = TANH(cv);                                                               \
            cob[j] = cv;                                                                  \
            tcb[j] = t;                                                                   \
            hb[j] = ac[3 * H + j] * t;                                                    \
        }                                                                                 \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* dst (C, R) = src (R, C)^T, src rows lds apart, in 16 x 16 tiles that stay in cache. */ \
void transpose_##SFX(ptrdiff_t R, ptrdiff_t C, const T *restrict src, ptrdiff_t lds,      \
                     T *restrict dst)                                                     \
{                                                                                         \
    for (ptrdiff_t i0 = 0; i0 < R; i0 += 16)                                              \
        for (ptrdiff_t j0 = 0; j0 < C; j0 += 16) {                                        \
            ptrdiff_t i1 = i0 + 16 < R ? i0 + 16 : R, j1 = j0 + 16 < C ? j0 + 16 : C;     \
            for (ptrdiff_t j = j0; j < j1; j++) /* dst's rows whole: no 4K-apart stores */ \
                for (ptrdiff_t i = i0; i < i1; i++)                                       \
                    dst[j * R + i] = src[i * lds + j];                                    \
        }                                                                                 \
}                                                                                         \
                                                                                          \
/* The LSTM forward step above, after the step's matmul taken the other way round:        \
 * aT (4H, B) = Wh h^T, which numpy's BLAS runs up to 1.4x faster at B >= 32 than         \
 * h Wh^T (benchmarks/step_parts.py). a (B, 4H) is scratch for aT transposed, and         \
 * hT (H, B) receives h' transposed, the next step's matmul input. */                     \
void lstm_forward_cols_##SFX(ptrdiff_t B, ptrdiff_t H, const T *restrict pre,             \
                             const T *restrict aT, T *restrict a, const T *c,             \
                             ptrdiff_t ldc, T *restrict act, T *restrict tc, T *h_out,    \
                             ptrdiff_t ldh, T *c_out, ptrdiff_t ldco, T *restrict hT)     \
{                                                                                         \
    transpose_##SFX(4 * H, B, aT, B, a);                                                  \
    lstm_forward_##SFX(B, H, pre, a, c, ldc, act, tc, h_out, ldh, c_out, ldco);           \
    transpose_##SFX(B, H, h_out, ldh, hT);                                                \
}                                                                                         \
                                                                                          \
/* LSTM, one step of full BPTT before its matmul (lstm.py LSTMCell.backward's full loop:  \
 * `dh = dout[t]; dh += dhnext`, _factors, and _back_step up to its np.dot):              \
 *     dh     = dout_t + dhnext                                     (B1)                  \
 *     dc     = dcnext + dh * o * (1 - tanh(c')^2)                  (B2)                  \
 *     da_i = dc g i(1-i); da_f = dc c f(1-f); da_g = dc i (1-g^2)  (B3)                  \
 *     da_o   = dh * tanh(c') * o (1 - o)                           (B4)                  \
 *     dcnext = dc * f                                              (B5)                  \
 * dout, dhnext, dcnext, c (the step's previous cell), tc (B, H); act, dpre (B, 4H).      \
 * dcnext is updated in place; (B6) dhnext = dpre Wh follows, in lstm_backward_seq (or    \
 * Python's loop). dhnext and dcnext NULL: the naive rule (no (B5), (B6)), over all T     \
 * steps at once as B = T*B rows. */                                                      \
static inline __attribute__((always_inline)) void                                         \
lstm_back_rows_##SFX(ptrdiff_t B, ptrdiff_t H, const T *restrict dout,                    \
                     const T *restrict dhnext, T *restrict dcnext, const T *restrict act, \
                     const T *restrict c, const T *restrict tc, T *restrict dpre,         \
                     const int full)                                                      \
{                                                                                         \
    for (ptrdiff_t b = 0; b < B; b++) {                                                   \
        const T *restrict ac = act + b * 4 * H;                                           \
        T *restrict d = dpre + b * 4 * H, *restrict dcn = full ? dcnext + b * H : NULL;   \
        ptrdiff_t r = b * H;                                                              \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            T i = ac[j], f = ac[H + j], g = ac[2 * H + j], o = ac[3 * H + j];             \
            T t = tc[r + j];                                                              \
            T dh = dout[r + j] + (full ? dhnext[r + j] : (T)0);                           \
            T dc = (full ? dcn[j] : (T)0) + dh * (o * ((T)1 - t * t));                    \
            d[j] = dc * (g * (i * ((T)1 - i)));                                           \
            d[H + j] = dc * (c[r + j] * (f * ((T)1 - f)));                                \
            d[2 * H + j] = dc * (i * ((T)1 - g * g));                                     \
            d[3 * H + j] = dh * (t * (o * ((T)1 - o)));                                   \
            if (full)                                                                     \
                dcn[j] = dc * f;                                                          \
        }                                                                                 \
    }                                                                                     \
}                                                                                         \
                                                                                          \
void lstm_backward_##SFX(ptrdiff_t B, ptrdiff_t H, const T *restrict dout,                \
                         const T *restrict dhnext, T *restrict dcnext,                    \
                         const T *restrict act, const T *restrict c,                      \
                         const T *restrict tc, T *restrict dpre)                          \
{ /* one loop specialised for each rule: nothing tested per element */                    \
    if (dhnext)                                                                           \
        lstm_back_rows_##SFX(B, H, dout, dhnext, dcnext, act, c, tc, dpre, 1);            \
    else                                                                                  \
        lstm_back_rows_##SFX(B, H, dout, NULL, NULL, act, c, tc, dpre, 0);                \
}                                                                                         \
                                                                                          \
/* The input weight's gradient of a one-hot layer and its bias's, in one pass             \
 * (model.backward's `dflat.sum(axis=0, out=dbh)` and backend.onehot_grad's               \
 * `values.T @ onehot(index)`, a (G, N) x (N, V) matmul of mostly zeros):                 \
 *     dWx[:, v] = sum of values[i] over the i with index[i] == v     (dWxh)              \
 *     db        = sum of values[i] over all i                        (dbh)               \
 * as a scatter-add of N rows into acc (V, G) (scratch), db from its V rows, and          \
 * acc transposed into out (G, V). Returns how many index entries were outside            \
 * [0, V) (skipped): the caller raises on any. */                                         \
ptrdiff_t onehot_grad_##SFX(ptrdiff_t N, ptrdiff_t G, ptrdiff_t V,                        \
                            const ptrdiff_t *restrict index, const T *restrict values,    \
                            T *restrict acc, T *restrict out, T *restrict bias)           \
{                                                                                         \
    ptrdiff_t bad = 0;                                                                    \
    for (ptrdiff_t k = 0; k < V * G; k++)                                                 \
        acc[k] = 0;                                                                       \
    for (ptrdiff_t i = 0; i < N; i++) {                                                   \
        ptrdiff_t v = index[i];                                                           \
        if (v < 0 || v >= V) {                                                            \
            bad++;                                                                        \
            continue;                                                                     \
        }                                                                                 \
        T *restrict row = acc + v * G;                                                    \
        const T *restrict src = values + i * G;                                           \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t g = 0; g < G; g++)                                                 \
            row[g] += src[g];                                                             \
    }                                                                                     \
    for (ptrdiff_t g = 0; g < G; g++)                                                     \
        bias[g] = 0;                                                                      \
    for (ptrdiff_t v = 0; v < V; v++) {                                                   \
        const T *restrict row = acc + v * G;                                              \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t g = 0; g < G; g++)                                                 \
            bias[g] += row[g];                                                            \
    }                                                                                     \
    for (ptrdiff_t g = 0; g < G; g++)                                                     \
        for (ptrdiff_t v = 0; v < V; v++)                                                 \
            out[g * V + v] = acc[v * G + g];                                              \
    return bad;                                                                           \
}                                                                                         \
                                                                                          \
/* Softmax and the loss of each position, one row at a time while it is in cache          \
 * (model.forward's lines after its logits matmul):                                       \
 *     z = logits + by; z -= max(z)                     (the shift changes nothing)       \
 *     nll = log(sum(exp(z))) - z[target]               (in double, as numpy's)           \
 *     probs = exp(z) / sum(exp(z))                                                       \
 * z (N, V) holds the logits without the bias on entry and the probabilities on           \
 * exit; nll (N,) is double. Returns how many targets were outside [0, V) (their          \
 * nll is NaN): the caller raises on any. */                                              \
ptrdiff_t softmax_nll_##SFX(ptrdiff_t N, ptrdiff_t V, T *restrict z,                      \
                            const T *restrict by, const ptrdiff_t *restrict target,       \
                            double *restrict nll)                                         \
{                                                                                         \
    ptrdiff_t bad = 0;                                                                    \
    for (ptrdiff_t i = 0; i < N; i++) {                                                   \
        T *restrict row = z + i * V;                                                      \
        T m = -(T)INFINITY; /* a NaN logit is passed over here, and makes the sum NaN */  \
        _Pragma("omp simd reduction(max:m)")                                              \
        for (ptrdiff_t j = 0; j < V; j++) {                                               \
            row[j] += by[j];                                                              \
            m = row[j] > m ? row[j] : m;                                                  \
        }                                                                                 \
        ptrdiff_t t = target[i];                                                          \
        double zt = NAN;                                                                  \
        if (t >= 0 && t < V)                                                              \
            zt = (double)(row[t] - m);                                                    \
        else                                                                              \
            bad++;                                                                        \
        T s = 0;                                                                          \
        _Pragma("omp simd reduction(+:s)")                                                \
        for (ptrdiff_t j = 0; j < V; j++) {                                               \
            row[j] = EXP(row[j] - m);                                                     \
            s += row[j];                                                                  \
        }                                                                                 \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < V; j++)                                                 \
            row[j] /= s;                                                                  \
        nll[i] = log((double)s) - zt;                                                     \
    }                                                                                     \
    return bad;                                                                           \
}                                                                                         \
                                                                                          \
/* One Adam step on n parameters (optim.Adam._update's eleven numpy calls):               \
 *     m = beta1 m + (1 - beta1) g                                                        \
 *     v = beta2 v + (1 - beta2) g^2                                                      \
 *     p -= step m / (sqrt(v) + eps)    step: the rate with both bias corrections */      \
void adam_##SFX(ptrdiff_t n, T *restrict p, const T *restrict g, T *restrict m,           \
                T *restrict v, double step, double beta1, double beta2, double eps)       \
{                                                                                         \
    const T b1 = (T)beta1, c1 = (T)(1 - beta1), b2 = (T)beta2, c2 = (T)(1 - beta2);       \
    const T s = (T)step, e = (T)eps;                                                      \
    _Pragma("omp simd")                                                                   \
    for (ptrdiff_t k = 0; k < n; k++) {                                                   \
        T gk = g[k];                                                                      \
        T mk = b1 * m[k] + c1 * gk;                                                       \
        T vk = b2 * v[k] + c2 * (gk * gk);                                                \
        m[k] = mk;                                                                        \
        v[k] = vk;                                                                        \
        p[k] -= s * (mk / (SQRT(vk) + e));                                                \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* Inverted dropout with its mask drawn as 16-bit integers (model.py _dropout's and       \
 * _weight_drop's keyed branch: `np.less(bits, bound)`, `kept * scale`, `x * mult`):       \
 *     mult = scale if bits < bound else 0                          (D1)                  \
 *     out  = x * mult                                              (D2)                  \
 * bits (B, T, H) uint16, sequence-major as charrnn.core.masks draws them; x, mult, out   \
 * (T, B, H); a weight's mask is one (1, 1, G*H) block. T_ is T (the macro's T is the type). */\
void dropout_##SFX(ptrdiff_t T_, ptrdiff_t B, ptrdiff_t H, const unsigned short *restrict bits, \
                   ptrdiff_t bound, double scale, const T *restrict x, T *restrict mult,  \
                   T *restrict out)                                                       \
{                                                                                         \
    const T s = (T)scale;                                                                 \
    for (ptrdiff_t t = 0; t < T_; t++)                                                    \
        for (ptrdiff_t b = 0; b < B; b++) {                                               \
            const unsigned short *restrict u = bits + (b * T_ + t) * H;                   \
            ptrdiff_t o = (t * B + b) * H;                                                \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < H; j++) {                                           \
                T m = (ptrdiff_t)u[j] < bound ? s : (T)0;                                 \
                mult[o + j] = m;                                                          \
                out[o + j] = x[o + j] * m;                                                \
            }                                                                             \
        }                                                                                 \
}

KERNELS(float, f32, expf, tanhf, sqrtf)
KERNELS(double, f64, exp, tanh, sqrt)

/* CBLAS's constants: the values every CBLAS uses for these enums. */
enum { ROW_MAJOR = 101, NO_TRANS = 111 };

#define SEQUENCES(T, SFX)                                                                 \
                                                                                          \
/* BLAS's gemm, C = A B for row-major A (M, K) and B (K, N), no transposes: the           \
 * library numpy itself loaded, found at run time (kernels/__init__.py's                  \
 * _find_gemm), with 64-bit (ilp64 != 0) or 32-bit integers. */                           \
typedef void (*gemm64_##SFX##_t)(int, int, int, int64_t, int64_t, int64_t, T, const T *,  \
                                 int64_t, const T *, int64_t, T, T *, int64_t);           \
typedef void (*gemm32_##SFX##_t)(int, int, int, int, int, int, T, const T *, int,         \
                                 const T *, int, T, T *, int);                            \
static inline void                                                                        \
gemm_##SFX(const void *g, ptrdiff_t ilp64, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,         \
           const T *A, const T *Bm, T *C)                                                 \
{                                                                                         \
    if (ilp64)                                                                            \
        ((gemm64_##SFX##_t)g)(ROW_MAJOR, NO_TRANS, NO_TRANS, M, N, K, (T)1, A, K, Bm, N,  \
                              (T)0, C, N);                                                \
    else                                                                                  \
        ((gemm32_##SFX##_t)g)(ROW_MAJOR, NO_TRANS, NO_TRANS, (int)M, (int)N, (int)K,      \
                              (T)1, A, (int)K, Bm, (int)N, (T)0, C, (int)N);              \
}                                                                                         \
                                                                                          \
/* The loops over time of tanh.py, gru.py and lstm.py's compiled paths, here so that no   \
 * step returns to Python: each step's matmul through gemm, then its kernel above.   */   \
                                                                                          \
/* tanh.py TanhCell.forward: hs (T+1, B, H) with hs[0] = h0 on entry. */                  \
void rnn_forward_seq_##SFX(const void *g, ptrdiff_t ilp64, ptrdiff_t T_, ptrdiff_t B,     \
                           ptrdiff_t H, const T *pre, const T *WhhT, T *hs)               \
{                                                                                         \
    for (ptrdiff_t t = 0; t < T_; t++) {                                                  \
        gemm_##SFX(g, ilp64, B, H, H, hs + t * B * H, WhhT, hs + (t + 1) * B * H);        \
        rnn_forward_##SFX(B, H, pre + t * B * H, hs + (t + 1) * B * H, H);                \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* tanh.py TanhCell.backward, full BPTT: dout (T, B, H) becomes dhraw; dh0 zeros on       \
 * entry and d loss / d h0 on exit. */                                                    \
void rnn_backward_seq_##SFX(const void *g, ptrdiff_t ilp64, ptrdiff_t T_, ptrdiff_t B,    \
                            ptrdiff_t H, T *dout, T *dh0, const T *hs, const T *Whh)      \
{                                                                                         \
    for (ptrdiff_t t = T_ - 1; t >= 0; t--) {                                             \
        rnn_backward_##SFX(B, H, dout + t * B * H, dh0, hs + (t + 1) * B * H);            \
        gemm_##SFX(g, ilp64, B, H, H, dout + t * B * H, Whh, dh0); /* (B3) */             \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* gru.py GRUCell.forward: gb (B, 3H) holds each step's h Wh^T. */                        \
void gru_forward_seq_##SFX(const void *g, ptrdiff_t ilp64, ptrdiff_t T_, ptrdiff_t B,     \
                           ptrdiff_t H, const T *pre, const T *WhT, const T *bhn, T *gb,  \
                           T *hs, T *acts, T *hn)                                         \
{                                                                                         \
    ptrdiff_t G = 3 * H;                                                                  \
    for (ptrdiff_t t = 0; t < T_; t++) {                                                  \
        T *h = hs + t * B * H;                                                            \
        gemm_##SFX(g, ilp64, B, G, H, h, WhT, gb);                                        \
        gru_forward_##SFX(B, H, pre + t * B * G, gb, bhn, h, H, acts + t * B * G,         \
                          hn + t * B * H, h + B * H, H);                                  \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* gru.py GRUCell.backward, full BPTT: dhnext and carry zeros on entry; on exit their     \
 * sum is d loss / d h0. */                                                               \
void gru_backward_seq_##SFX(const void *g, ptrdiff_t ilp64, ptrdiff_t T_, ptrdiff_t B,    \
                            ptrdiff_t H, const T *dout, T *dhnext, T *carry,              \
                            const T *acts, const T *hn, const T *hs, T *dgh, T *dpre,     \
                            const T *Wh)                                                  \
{                                                                                         \
    ptrdiff_t G = 3 * H;                                                                  \
    for (ptrdiff_t t = T_ - 1; t >= 0; t--) {                                             \
        gru_backward_##SFX(B, H, dout + t * B * H, dhnext, carry, acts + t * B * G,       \
                           hn + t * B * H, hs + t * B * H, dgh + t * B * G,               \
                           dpre + t * B * G);                                             \
        gemm_##SFX(g, ilp64, B, H, G, dgh + t * B * G, Wh, dhnext); /* (B6) */            \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* lstm.py LSTMCell._forward_compiled on rows: a (B, 4H) holds each step's h Wh^T. */     \
void lstm_forward_seq_##SFX(const void *g, ptrdiff_t ilp64, ptrdiff_t T_, ptrdiff_t B,    \
                            ptrdiff_t H, const T *pre, const T *WhT, T *a, T *hs, T *cs,  \
                            T *acts, T *tcs)                                              \
{                                                                                         \
    ptrdiff_t G = 4 * H;                                                                  \
    for (ptrdiff_t t = 0; t < T_; t++) {                                                  \
        T *c = cs + t * B * H, *h = hs + t * B * H;                                       \
        gemm_##SFX(g, ilp64, B, G, H, h, WhT, a);                                         \
        lstm_forward_##SFX(B, H, pre + t * B * G, a, c, H, acts + t * B * G,              \
                           tcs + t * B * H, h + B * H, H, c + B * H, H);                  \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* lstm.py LSTMCell._forward_compiled on columns: aT (4H, B) = Wh h^T, hT (H, B) h_0^T    \
 * on entry; a (B, 4H) is the kernel's scratch. */                                        \
void lstm_forward_cols_seq_##SFX(const void *g, ptrdiff_t ilp64, ptrdiff_t T_,            \
                                 ptrdiff_t B, ptrdiff_t H, const T *pre, const T *Wh,     \
                                 T *aT, T *a, T *hT, T *hs, T *cs, T *acts, T *tcs)       \
{                                                                                         \
    ptrdiff_t G = 4 * H;                                                                  \
    for (ptrdiff_t t = 0; t < T_; t++) {                                                  \
        T *c = cs + t * B * H, *h = hs + (t + 1) * B * H;                                 \
        gemm_##SFX(g, ilp64, G, B, H, Wh, hT, aT);                                        \
        lstm_forward_cols_##SFX(B, H, pre + t * B * G, aT, a, c, H, acts + t * B * G,     \
                                tcs + t * B * H, h, H, c + B * H, H, hT);                 \
    }                                                                                     \
}                                                                                         \
                                                                                          \
/* lstm.py LSTMCell.backward, full BPTT: dhnext, dcnext zeros on entry, d loss / d h0     \
 * and d c0 on exit. */                                                                   \
void lstm_backward_seq_##SFX(const void *g, ptrdiff_t ilp64, ptrdiff_t T_, ptrdiff_t B,   \
                             ptrdiff_t H, const T *dout, T *dhnext, T *dcnext,            \
                             const T *acts, const T *cs, const T *tcs, T *dpre,           \
                             const T *Wh)                                                 \
{                                                                                         \
    ptrdiff_t G = 4 * H;                                                                  \
    for (ptrdiff_t t = T_ - 1; t >= 0; t--) {                                             \
        lstm_backward_##SFX(B, H, dout + t * B * H, dhnext, dcnext, acts + t * B * G,     \
                            cs + t * B * H, tcs + t * B * H, dpre + t * B * G);           \
        gemm_##SFX(g, ilp64, B, H, G, dpre + t * B * G, Wh, dhnext); /* (B6) */           \
    }                                                                                     \
}

SEQUENCES(float, f32)
SEQUENCES(double, f64)
