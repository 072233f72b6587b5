/*
 * crc32c: CRC-32C (Castagnoli), the checksum of every segment page, footer,
 * file-cache block and frame. Uses the SSE4.2 crc32 instruction when the CPU
 * has it (checked once at run time), a slicing table otherwise; both give
 * identical results.
 */
#ifndef FLOE_CRC32C_H
#define FLOE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over len bytes. crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);
/* The portable table implementation, exposed so tests can compare both paths. */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);
/* True when the hardware path is in use. */
int crc32c_hw_available(void);

#endif
