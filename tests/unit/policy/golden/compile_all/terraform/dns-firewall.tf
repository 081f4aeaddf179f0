# Ramparts egress lists as a Route 53 Resolver DNS Firewall (generated)
# DNS answers names, not ports: egress.ports (80, 443) is enforced by the proxy, the squid ACL and the Network Firewall rules

resource "aws_route53_resolver_firewall_rule_group" "ramparts_egress" {
  name = "ramparts-egress"
  tags = { managed-by = "ramparts" }
}

resource "aws_route53_resolver_firewall_domain_list" "ramparts_egress_blocked" {
  name    = "ramparts-egress-blocked"
  domains = ["pastebin.com", "*.pastebin.com", "paste.ee", "hastebin.com", "ghostbin.com", "dpaste.org", "transfer.sh", "file.io", "0x0.st", "termbin.com", "temp.sh", "*.ngrok.io", "*.ngrok-free.app", "*.ngrok.app", "*.trycloudflare.com", "*.loca.lt", "localtunnel.me", "*.serveo.net", "*.localhost.run", "*.lhr.life", "webhook.site", "*.webhook.site", "*.requestbin.net", "*.pipedream.net", "*.requestcatcher.com", "*.beeceptor.com", "*.burpcollaborator.net", "*.oastify.com", "interact.sh", "*.interact.sh", "*.oast.fun", "*.oast.pro", "*.oast.live", "*.oast.site", "*.oast.online", "*.oast.me", "*.dnslog.cn", "dns.google", "dns.google.com", "dns64.dns.google", "cloudflare-dns.com", "*.cloudflare-dns.com", "one.one.one.one", "dns.quad9.net", "dns9.quad9.net", "dns10.quad9.net", "dns11.quad9.net", "doh.opendns.com", "doh.familyshield.opendns.com", "dns.adguard.com", "dns.adguard-dns.com", "*.adguard-dns.com", "doh.cleanbrowsing.org", "dns.nextdns.io", "*.nextdns.io", "doh.mullvad.net", "*.mullvad.net", "dns.controld.com", "freedns.controld.com", "doh.dns.sb", "dns.alidns.com", "doh.pub", "dns.twnic.tw", "doh.libredns.gr"]
  tags    = { managed-by = "ramparts" }
}

resource "aws_route53_resolver_firewall_domain_list" "ramparts_egress_allowed" {
  name    = "ramparts-egress-allowed"
  domains = ["api.anthropic.com"]
  tags    = { managed-by = "ramparts" }
}

resource "aws_route53_resolver_firewall_domain_list" "ramparts_egress_everything" {
  name    = "ramparts-egress-everything"
  domains = ["*"]
  tags    = { managed-by = "ramparts" }
}

resource "aws_route53_resolver_firewall_rule" "ramparts_egress_block" {
  name                    = "ramparts-egress-block"
  action                  = "BLOCK"
  block_response = "NXDOMAIN"
  firewall_domain_list_id = aws_route53_resolver_firewall_domain_list.ramparts_egress_blocked.id
  firewall_rule_group_id  = aws_route53_resolver_firewall_rule_group.ramparts_egress.id
  priority                = 100
}

resource "aws_route53_resolver_firewall_rule" "ramparts_egress_allow" {
  name                    = "ramparts-egress-allow"
  action                  = "ALLOW"
  firewall_domain_list_id = aws_route53_resolver_firewall_domain_list.ramparts_egress_allowed.id
  firewall_rule_group_id  = aws_route53_resolver_firewall_rule_group.ramparts_egress.id
  priority                = 200
}

resource "aws_route53_resolver_firewall_rule" "ramparts_egress_default" {
  name                    = "ramparts-egress-default"
  action                  = "BLOCK"
  block_response = "NXDOMAIN"
  firewall_domain_list_id = aws_route53_resolver_firewall_domain_list.ramparts_egress_everything.id
  firewall_rule_group_id  = aws_route53_resolver_firewall_rule_group.ramparts_egress.id
  priority                = 300
}
