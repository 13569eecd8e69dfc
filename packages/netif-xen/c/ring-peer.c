/*
 * The C peer of the ring tests, compiled against Xen's own public headers (Debian libxen-dev).
 *
 *   ring-peer layout                      prints "name value" lines: sizes, offsets, constants
 *   ring-peer tx-back PAGE START          attaches a back ring to the tx ring page in file PAGE
 *                                         (private indices START), answers every request with
 *                                         Xen's RING_* macros, writes the page back and prints
 *                                         "consumed N notify B more B"
 *   ring-peer rx-front PAGE START COUNT   attaches a front ring to the rx ring page in file PAGE,
 *                                         posts COUNT rx requests (id = i, gref = 1000 + i) and
 *                                         prints "notify B"; then consumes every response and
 *                                         prints "rsp ID OFFSET FLAGS STATUS" lines
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define mb() __sync_synchronize()
#define rmb() __sync_synchronize()
#define wmb() __sync_synchronize()
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/netif.h>
#include <xen/io/xs_wire.h>
#include <xen/io/xenbus.h>

#define PAGE 4096
#define P(name, value) printf("%s %ld\n", name, (long)(value))

static unsigned char page[PAGE];

static void load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f || fread(page, 1, PAGE, f) != PAGE) { perror(path); exit(2); }
  fclose(f);
}

static void store(const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(page, 1, PAGE, f) != PAGE) { perror(path); exit(2); }
  fclose(f);
}

static void layout(void) {
  P("sizeof_netif_tx_sring_header", offsetof(struct netif_tx_sring, ring));
  P("offsetof_sring_req_prod", offsetof(struct netif_tx_sring, req_prod));
  P("offsetof_sring_req_event", offsetof(struct netif_tx_sring, req_event));
  P("offsetof_sring_rsp_prod", offsetof(struct netif_tx_sring, rsp_prod));
  P("offsetof_sring_rsp_event", offsetof(struct netif_tx_sring, rsp_event));
  P("offsetof_sring_pvt", offsetof(struct netif_tx_sring, pvt));
  P("offsetof_sring_pad", offsetof(struct netif_tx_sring, __pad));
  P("offsetof_rx_sring_ring", offsetof(struct netif_rx_sring, ring));
  P("sizeof_sring_pvt", sizeof(((struct netif_tx_sring *)0)->pvt));
  P("sizeof_sring_pad", sizeof(((struct netif_tx_sring *)0)->__pad));
  P("sizeof_netif_tx_sring_entry", sizeof(union netif_tx_sring_entry));
  P("sizeof_netif_rx_sring_entry", sizeof(union netif_rx_sring_entry));
  P("netif_tx_ring_size_4096", __CONST_RING_SIZE(netif_tx, PAGE));
  P("netif_rx_ring_size_4096", __CONST_RING_SIZE(netif_rx, PAGE));
  P("sizeof_netif_tx_request", sizeof(struct netif_tx_request));
  P("offsetof_netif_tx_request_gref", offsetof(struct netif_tx_request, gref));
  P("offsetof_netif_tx_request_offset", offsetof(struct netif_tx_request, offset));
  P("offsetof_netif_tx_request_flags", offsetof(struct netif_tx_request, flags));
  P("offsetof_netif_tx_request_id", offsetof(struct netif_tx_request, id));
  P("offsetof_netif_tx_request_size", offsetof(struct netif_tx_request, size));
  P("sizeof_netif_tx_response", sizeof(struct netif_tx_response));
  P("offsetof_netif_tx_response_id", offsetof(struct netif_tx_response, id));
  P("offsetof_netif_tx_response_status", offsetof(struct netif_tx_response, status));
  P("sizeof_netif_rx_request", sizeof(struct netif_rx_request));
  P("offsetof_netif_rx_request_id", offsetof(struct netif_rx_request, id));
  P("offsetof_netif_rx_request_pad", offsetof(struct netif_rx_request, pad));
  P("offsetof_netif_rx_request_gref", offsetof(struct netif_rx_request, gref));
  P("sizeof_netif_rx_response", sizeof(struct netif_rx_response));
  P("offsetof_netif_rx_response_id", offsetof(struct netif_rx_response, id));
  P("offsetof_netif_rx_response_offset", offsetof(struct netif_rx_response, offset));
  P("offsetof_netif_rx_response_flags", offsetof(struct netif_rx_response, flags));
  P("offsetof_netif_rx_response_status", offsetof(struct netif_rx_response, status));
  P("sizeof_netif_extra_info", sizeof(struct netif_extra_info));
  P("offsetof_netif_extra_info_type", offsetof(struct netif_extra_info, type));
  P("offsetof_netif_extra_info_flags", offsetof(struct netif_extra_info, flags));
  P("offsetof_netif_extra_info_u", offsetof(struct netif_extra_info, u));
  P("NETTXF_csum_blank", NETTXF_csum_blank);
  P("NETTXF_data_validated", NETTXF_data_validated);
  P("NETTXF_more_data", NETTXF_more_data);
  P("NETTXF_extra_info", NETTXF_extra_info);
  P("NETRXF_data_validated", NETRXF_data_validated);
  P("NETRXF_csum_blank", NETRXF_csum_blank);
  P("NETRXF_more_data", NETRXF_more_data);
  P("NETRXF_extra_info", NETRXF_extra_info);
  P("NETRXF_gso_prefix", NETRXF_gso_prefix);
  P("NETIF_RSP_DROPPED", NETIF_RSP_DROPPED);
  P("NETIF_RSP_ERROR", NETIF_RSP_ERROR);
  P("NETIF_RSP_OKAY", NETIF_RSP_OKAY);
  P("NETIF_RSP_NULL", NETIF_RSP_NULL);
  P("XEN_NETIF_EXTRA_TYPE_GSO", XEN_NETIF_EXTRA_TYPE_GSO);
  P("XEN_NETIF_EXTRA_FLAG_MORE", XEN_NETIF_EXTRA_FLAG_MORE);
  P("XEN_NETIF_MAX_TX_SIZE", XEN_NETIF_MAX_TX_SIZE);
  P("XEN_NETIF_NR_SLOTS_MIN", XEN_NETIF_NR_SLOTS_MIN);
  P("sizeof_xsd_sockmsg", sizeof(struct xsd_sockmsg));
  P("offsetof_xsd_sockmsg_type", offsetof(struct xsd_sockmsg, type));
  P("offsetof_xsd_sockmsg_req_id", offsetof(struct xsd_sockmsg, req_id));
  P("offsetof_xsd_sockmsg_tx_id", offsetof(struct xsd_sockmsg, tx_id));
  P("offsetof_xsd_sockmsg_len", offsetof(struct xsd_sockmsg, len));
  P("XS_DIRECTORY", XS_DIRECTORY);
  P("XS_READ", XS_READ);
  P("XS_GET_PERMS", XS_GET_PERMS);
  P("XS_WATCH", XS_WATCH);
  P("XS_UNWATCH", XS_UNWATCH);
  P("XS_TRANSACTION_START", XS_TRANSACTION_START);
  P("XS_TRANSACTION_END", XS_TRANSACTION_END);
  P("XS_GET_DOMAIN_PATH", XS_GET_DOMAIN_PATH);
  P("XS_WRITE", XS_WRITE);
  P("XS_MKDIR", XS_MKDIR);
  P("XS_RM", XS_RM);
  P("XS_SET_PERMS", XS_SET_PERMS);
  P("XS_WATCH_EVENT", XS_WATCH_EVENT);
  P("XS_ERROR", XS_ERROR);
  P("XS_RESET_WATCHES", XS_RESET_WATCHES);
  P("XS_DIRECTORY_PART", XS_DIRECTORY_PART);
  P("XENSTORE_PAYLOAD_MAX", XENSTORE_PAYLOAD_MAX);
  P("XenbusStateInitialising", XenbusStateInitialising);
  P("XenbusStateInitWait", XenbusStateInitWait);
  P("XenbusStateInitialised", XenbusStateInitialised);
  P("XenbusStateConnected", XenbusStateConnected);
  P("XenbusStateClosing", XenbusStateClosing);
  P("XenbusStateClosed", XenbusStateClosed);
}

static void tx_back(const char *path, RING_IDX start) {
  netif_tx_back_ring_t back;
  int notify, more;
  unsigned consumed = 0;
  load(path);
  BACK_RING_ATTACH(&back, (netif_tx_sring_t *)page, start, PAGE);
  while (RING_HAS_UNCONSUMED_REQUESTS(&back)) {
    netif_tx_request_t req;
    RING_COPY_REQUEST(&back, back.req_cons, &req);
    back.req_cons++;
    netif_tx_response_t *rsp = RING_GET_RESPONSE(&back, back.rsp_prod_pvt);
    rsp->id = req.id;
    /* Follow-on slots of a packet answer NETIF_RSP_NULL, the first slot OKAY. */
    rsp->status = (req.flags & NETTXF_more_data) && req.size == 0 ? NETIF_RSP_NULL : NETIF_RSP_OKAY;
    back.rsp_prod_pvt++;
    consumed++;
  }
  RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&back, notify);
  RING_FINAL_CHECK_FOR_REQUESTS(&back, more);
  store(path);
  printf("consumed %u notify %d more %d\n", consumed, notify ? 1 : 0, more ? 1 : 0);
}

static void rx_front(const char *path, RING_IDX start, unsigned count) {
  netif_rx_front_ring_t front;
  int notify;
  load(path);
  FRONT_RING_ATTACH(&front, (netif_rx_sring_t *)page, start, PAGE);
  for (unsigned i = 0; i < count && !RING_FULL(&front); i++) {
    netif_rx_request_t *req = RING_GET_REQUEST(&front, front.req_prod_pvt);
    req->id = (uint16_t)i;
    req->gref = 1000 + i;
    front.req_prod_pvt++;
  }
  RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
  printf("notify %d\n", notify ? 1 : 0);
  store(path);
}

static void rx_front_consume(const char *path, RING_IDX start) {
  netif_rx_front_ring_t front;
  int more;
  load(path);
  FRONT_RING_ATTACH(&front, (netif_rx_sring_t *)page, start, PAGE);
  while (RING_HAS_UNCONSUMED_RESPONSES(&front)) {
    netif_rx_response_t *rsp = RING_GET_RESPONSE(&front, front.rsp_cons);
    printf("rsp %u %u %u %d\n", rsp->id, rsp->offset, rsp->flags, rsp->status);
    front.rsp_cons++;
  }
  RING_FINAL_CHECK_FOR_RESPONSES(&front, more);
  printf("more %d rsp_event %u\n", more ? 1 : 0, front.sring->rsp_event);
  store(path);
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "layout") == 0) layout();
  else if (argc == 4 && strcmp(argv[1], "tx-back") == 0) tx_back(argv[2], (RING_IDX)strtoul(argv[3], 0, 0));
  else if (argc == 5 && strcmp(argv[1], "rx-front") == 0)
    rx_front(argv[2], (RING_IDX)strtoul(argv[3], 0, 0), (unsigned)strtoul(argv[4], 0, 0));
  else if (argc == 4 && strcmp(argv[1], "rx-consume") == 0) rx_front_consume(argv[2], (RING_IDX)strtoul(argv[3], 0, 0));
  else { fprintf(stderr, "usage: ring-peer layout | tx-back PAGE START | rx-front PAGE START COUNT | rx-consume PAGE START\n"); return 2; }
  return 0;
}
