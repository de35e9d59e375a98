#include "ggml_types.h"

ggml_type_info ggml_type_get(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: return (ggml_type_info){"f32", 1, 4};
    case GGML_TYPE_F16: return (ggml_type_info){"f16", 1, 2};
    case GGML_TYPE_BF16: return (ggml_type_info){"bf16", 1, 2};
    case GGML_TYPE_Q4_0: return (ggml_type_info){"q4_0", 32, 18};
    case GGML_TYPE_Q4_1: return (ggml_type_info){"q4_1", 32, 20};
    case GGML_TYPE_Q5_0: return (ggml_type_info){"q5_0", 32, 22};
    case GGML_TYPE_Q5_1: return (ggml_type_info){"q5_1", 32, 24};
    case GGML_TYPE_Q8_0: return (ggml_type_info){"q8_0", 32, 34};
    case GGML_TYPE_Q8_1: return (ggml_type_info){"q8_1", 32, 36};
    case GGML_TYPE_Q2_K: return (ggml_type_info){"q2_K", 256, 84};
    case GGML_TYPE_Q3_K: return (ggml_type_info){"q3_K", 256, 110};
    case GGML_TYPE_Q4_K: return (ggml_type_info){"q4_K", 256, 144};
    case GGML_TYPE_Q5_K: return (ggml_type_info){"q5_K", 256, 176};
    case GGML_TYPE_Q6_K: return (ggml_type_info){"q6_K", 256, 210};
    case GGML_TYPE_Q8_K: return (ggml_type_info){"q8_K", 256, 292};
    default: return (ggml_type_info){"unknown", 0, 0};
    }
}
