"""Egress: the forward proxy (CONNECT, absolute-form HTTP, SOCKS5) around a pure ACL and address classifier."""
