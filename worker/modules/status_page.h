/*
 * status_page.h: the status page's HTML (worker/modules/status_page.html),
 * built into the program by embed.sh as status_page.c.
 */
#ifndef PORTICO_STATUS_PAGE_H
#define PORTICO_STATUS_PAGE_H

#include <stddef.h>

extern const char status_page_html[];
extern const size_t status_page_html_len;

#endif
