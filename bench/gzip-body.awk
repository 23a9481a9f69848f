# bench/gzip-body.awk: the bodies of bench/gzip, made the same on every
# machine (a generator of its own, not awk's rand, whose sequence differs
# between awks): a news page's HTML (head, navigation, articles of
# English-like text with links, dates, images and tags) or an API's JSON
# (a list of user records: ids, UUIDs, names, e-mail addresses, dates,
# amounts, addresses, tags, a sentence), exactly size bytes, compressible
# as such pages are (gzip -6 takes them to about a third).
#
#     awk -v kind=html|json -v size=BYTES -v seed=N -f bench/gzip-body.awk
function rnd() { seed = (seed * 16807) % 2147483647; return seed / 2147483647 }
function pick(n) { return int(rnd() * n) + 1 }
function zipf(n,   r) { r = rnd(); return int(n * r * r * r) + 1 }	# the common words more often
function word() { return W[zipf(nw)] }
function words(n,   s, i) { s = word(); for (i = 1; i < n; i++) s = s " " word(); return s }
function slug_of(s) { s = tolower(s); gsub(/ /, "-", s); return s }
function cap(s) { return toupper(substr(s, 1, 1)) substr(s, 2) }
function sentence(   s) { s = cap(words(6 + pick(14))); return s (rnd() < 0.1 ? "?" : ".") }
function para(   s, i, n) { n = 2 + pick(4); s = sentence(); for (i = 1; i < n; i++) s = s " " sentence(); return s }
function slug(n,   s) { s = words(n); gsub(/ /, "-", s); return s }
function hex(n,   s, i) { s = ""; for (i = 0; i < n; i++) s = s substr("0123456789abcdef", pick(16), 1); return s }
function date2(   m, d) { m = pick(12); d = pick(28); return sprintf("2026-%02d-%02dT%02d:%02d:%02dZ", m, d, pick(24) - 1, pick(60) - 1, pick(60) - 1) }
function person() { return cap(F[pick(nf)]) " " cap(L[pick(nl)]) }
function out(s) { item = item s }
function html_head(   i) {
	out("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	out("<title>" cap(words(5)) " | The Daily Example</title>\n")
	out("<link rel=\"stylesheet\" href=\"/static/css/site." hex(8) ".css\">\n<script src=\"/static/js/app." hex(8) ".js\" defer></script>\n</head>\n")
	out("<body class=\"home\">\n<header class=\"site-header\">\n<nav class=\"main-nav\">\n<ul>\n")
	for (i = 1; i <= 8; i++) out("<li class=\"nav-item\"><a href=\"/section/" W[i + 40] "\">" cap(W[i + 40]) "</a></li>\n")
	out("</ul>\n</nav>\n</header>\n<main class=\"content\">\n")
}
function html_article(   id, a, i, n, t) {
	id = 10000 + pick(90000); a = person()
	out("<article class=\"post\" id=\"post-" id "\">\n<h2 class=\"post-title\"><a href=\"/2026/" sprintf("%02d", pick(12)) "/" slug(4) "-" id "\">" cap(words(3 + pick(6))) "</a></h2>\n")
	out("<p class=\"post-meta\">By <a href=\"/author/" tolower(a) "\" rel=\"author\">" a "</a> on <time datetime=\"" date2() "\">" pick(28) " " M[pick(12)] " 2026</time></p>\n")
	if (rnd() < 0.5) out("<img class=\"post-image\" src=\"/media/" hex(12) ".jpg\" alt=\"" cap(words(4)) "\" width=\"640\" height=\"360\" loading=\"lazy\">\n")
	n = 1 + pick(3)
	for (i = 0; i < n; i++) out("<p>" para() "</p>\n")
	out("<ul class=\"tags\">")
	n = pick(4)
	for (i = 0; i < n; i++) { t = word(); out("<li><a href=\"/tag/" t "\">" t "</a></li>") }
	out("</ul>\n</article>\n")
}
function json_item(first,   a, e, i, n) {
	a = person(); e = tolower(a); sub(/ /, ".", e)
	out((first ? "" : ",") "\n    {\"id\": " (100000 + pick(900000)) ", \"uuid\": \"" hex(8) "-" hex(4) "-4" hex(3) "-" hex(4) "-" hex(12) "\", ")
	out("\"name\": \"" a "\", \"email\": \"" e "@example.com\", \"active\": " (rnd() < 0.8 ? "true" : "false") ", ")
	out("\"balance\": " sprintf("%.2f", rnd() * 10000) ", \"created_at\": \"" date2() "\", \"updated_at\": \"" date2() "\",\n     ")
	out("\"address\": {\"street\": \"" pick(999) " " cap(word()) " " S[pick(ns)] "\", \"city\": \"" cap(C[pick(nc)]) "\", \"zip\": \"" sprintf("%05d", pick(99999)) "\", \"country\": \"US\"},\n     ")
	out("\"tags\": [")
	n = pick(4)
	for (i = 0; i < n; i++) out((i ? ", " : "") "\"" word() "\"")
	out("], \"score\": " sprintf("%.4f", rnd()) ", \"bio\": \"" sentence() "\"}")
}
BEGIN {
	if (seed == "") seed = 42
	nw = split("the of and to a in is it you that he was for on are with as I his they be at one have this from or had by hot word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find any new work part take get place made live where after back little only round man year came show every good me give our under name very through just form great think say help low line differ turn cause much mean before move right boy old too same tell does set three want air well also play small end put home read hand port large spell add even land here must big high such follow act why ask men change went light kind off need house picture try us again animal point mother world near build self earth father head stand own page should country found answer school grow study still learn plant cover food sun four between state keep eye never last let thought city tree cross farm hard start might story saw far sea draw left late run while press close night real life few north open seem together next white children begin got walk example ease paper group always music those both mark often letter until mile river car feet care second book carry took science eat room friend began idea fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual young ready above ever red list though feel talk bird soon body dog family direct pose leave song measure door product black short numeral class wind question happen complete ship area half rock order fire south problem piece told knew pass since top whole king space heard best hour better true during hundred five remember step early hold west ground interest reach fast verb sing listen six table travel less morning ten simple several vowel toward war lay against pattern slow center love person money serve appear road map rain rule govern pull cold notice voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct able pound done beauty drive stood contain front teach week final gave green quick develop ocean warm free minute strong special mind behind clear tail produce fact street inch multiply nothing course stay wheel full force blue object decide surface deep moon island foot system busy test record boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring yes distant fill east paint language among", W, " ")
	nf = split("james mary john patricia robert jennifer michael linda william elizabeth david barbara richard susan joseph jessica thomas sarah charles karen daniel nancy matthew lisa anthony betty mark margaret donald sandra steven ashley paul kimberly andrew emily joshua donna", F, " ")
	nl = split("smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts", L, " ")
	nc = split("springfield riverside franklin greenville bristol clinton fairview salem madison georgetown arlington ashland burlington manchester oxford milton newport jackson dayton dover", C, " ")
	ns = split("St Ave Rd Blvd Lane Way Court Place Drive", S, " ")
	split("January February March April May June July August September October November December", M, " ")
	# Whole items while they fit, then one cut to fill the size exactly
	# (a paragraph, or an object whose text is cut short), then the end.
	if (kind == "html") {
		item = ""; html_head(); head = item
		tail = "</main>\n<footer class=\"site-footer\">\n<p>&copy; 2026 The Daily Example. All rights reserved.</p>\n</footer>\n</body>\n</html>\n"
		open1 = "<p class=\"more\">"; close1 = "</p>\n"
	} else {
		head = "{\n  \"data\": ["
		tail = "\n  ],\n  \"meta\": {\"page\": 1, \"per_page\": 100, \"next\": \"/api/v2/users?page=2\"}\n}\n"
		open1 = ",\n    {\"id\": 0, \"note\": \""; close1 = "\"}"
	}
	printf "%s", head; len = length(head); room = size - length(tail) - length(open1) - length(close1) - 1
	for (k = 0; ; k++) {
		item = ""
		if (kind == "html") html_article(); else json_item(k == 0)
		if (len + length(item) > room) break
		printf "%s", item; len += length(item)
	}
	fill = ""
	while (length(fill) < size - len) fill = fill " " para()
	printf "%s%s%s%s", open1, substr(fill, 2, size - len - length(tail) - length(open1) - length(close1)), close1, tail
}
