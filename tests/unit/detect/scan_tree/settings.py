lorem dolor eiusmod tempor, transfer 3681076603180035, CONTACT #7.62.614.0, amet, HOTEL is 5047923561851939, INVOICE is first_last@mail.example.org
ipsum eiusmod amet ipsum ipsum	zip 17.10.2000 33
 CREDIT: j@sub.dom.co.uk do amet adipiscing dolor amet elit eiusmod transfer is api_key = 'EXAMPLEKEY' consectetur eiusmod sed  is 0003 172 629 ssn AWS_SECRET_ACCESS_KEY=P7UtFcUDsfKF5MI/JaG/bTnJauZmCplzZseyUimh
dial #3411 7187 5658 01
: first_last@localhost text me
(415) 330-7791
client
+49 (0) 95 7187 349 amet do ipsum do do ipsum payment is 57.62.250.250 zip a.b.c.d@example.com sed dolor elit consectetur elit eiusmod tempor ACCOUNT: info@localhost
ipsum amet; zip: 0008 226 660; consectetur adipiscing; payment
078-05-1120; the is NL91ABNA0417164300; lorem do; ssn #2001:db8::ff00:42:8329
 is info@logo@2x.png	adipiscing sit adipiscing amet lorem eiusmod ipsum	dial #192.168.1.20	server
078-05-1120
ssn #j@example.com	tempor adipiscing do eiusmod sed lorem	ID 6224684473254707	sit ipsum ipsum eiusmod sed amet	account=token: ghp_HAbxEYlZDeX5qhtJ3b4XLP4kF2HWqHCxjC70
id
jane.roe@example.com, isbn 2a00:1450:4009:81f::200e, tempor tempor elit dolor sit ipsum, VERSION=767 75 2341
TRACKING is 377047993504667
account: 2a00:1450:4009:81f::200e | port=de:ad:be:ef:00:01 | eiusmod ipsum do do tempor sed | IBAN: +49 (0) 41 0927 188 |  | taxpayer is 60112746870577
ipsum tempor consectetur;  is +50151262756049; VERSION #a.b.c.d@localhost; amet; tracking: 9726 8112 8540 607; email
6227 7008 0988 5899
V. +44 20 1775 7390; mail: 460-97-0626; zip is +44 20 8869 6692

+44 20 9713 4275  serial #36.05.21.49.27 social security
jane.roe@sub.dom.co.uk port #FR14 2004 1010 0505 0001 3M02 606
lorem eiusmod sed dolor elit adipiscing consectetur, tel +49 (0) 29 9132 315,  jane.roe@logo@2x.png
sit ipsum tempor dolor ipsum sed; DIAL is ::1; lorem sed do; V.=211.164.189.133
consectetur, fax is 207-638-9454, mobile: x+tag@x.y, routing 881-277-3395
cc is AWS_SECRET_ACCESS_KEY=lcHrLCyiTBabF/MUdvmWokz4o8CJWT7TeClay1cC | adipiscing dolor lorem | VERSION=218.150.133.58 | consectetur | FAX password = "9nk3Cn6thEbit3"
; credit is 565944817; isbn 6514536614436076017
date is 666-12-3456
adipiscing sed sit address is 666-12-3456 dolor do amet CARD #x+tag@example.com
ipsum adipiscing dolor elit lorem sed adipiscing TAXPAYER=515-48-9950 serial: 99-65 147-617
tempor dolor; ID +1 935 433 2724
; routing
AWS_SECRET_ACCESS_KEY=bEhZLdX60Da/TAPfmCnuFF2okyeaBKhoZrG/9mk3
sit tempor lorem dolor, pan is 184 134.585 218, ipsum ipsum, client #2072-05-19 01, mail #jane.roe@example.com
consectetur adipiscing adipiscing dolor ipsum ipsum lorem	AMEX is x+tag@x.y	 is 078-05-1120
ipsum dolor eiusmod adipiscing | HOTEL
GB82WEST12345698765432 | ipsum sit sit tempor tempor dolor adipiscing | SERIAL is 132-02-3791 | ipsum ipsum adipiscing amet | THE
666-12-3456
sed eiusmod, contact
666-12-3456
amet tempor sed sit amet adipiscing sed |  is +44 20 0638 4765 | sit dolor amet elit sed sed amet | ORDER #1.17.211.8 | serial: a.b.c.d@localhost | amet adipiscing eiusmod elit | phone #4110 8111 2992 5
; port: 174.181.19.176; adipiscing dolor lorem tempor adipiscing amet do; : 348-98-8413
do do lorem ipsum consectetur; TEXT ME=078-05-1120; adipiscing dolor lorem consectetur eiusmod dolor do; CLIENT
first_last@logo@2x.png; ; visa is 9306413215257993003; 
api_key = 'EXAMPLEKEY'
remote: DE89 3704 0044 0532 0130 00; =token: ghp_rqxEPHBt8mXBhZNhttG7VHFV0M6ThNJ1Q0z6
do dolor amet; v.=+49 (0) 07 4540 022
 | social security: 3496 7319 7179 9
credit: NL91ABNA0417164300	dolor	office
666-12-3456	sit sed tempor do	MAIL is 571176016
VERSION: DE89 3704 0044 0532 0130 01;  is 29-22 074-450
serial 078-05-1120; ; pan 55829023247261
consectetur ipsum eiusmod date
+44 20 0725 8175 tempor elit sed ipsum remote
428-39-1493
tracking
353088203842750
REMOTE
(030) 623-5272; HOTEL
1.2.3.4
  is 0008 464 410 FAX +792045776168301 
92-58 086-526 AMEX is 1.2.3.4
CARD #078-05-1120 | CC=880 10 9416 | TAXPAYER: NL91ABNA0417164300
tracking x+tag@example.com
 | account #info@acme-corp.io
CLIENT 3475917535677 | sit | transfer is token: ghp_Tdpvbl7i7Dut0s9U59izE7mUUDiITu7j8uaq
invoice #password = "CHEayeByE99B79"; date: 0006 197 860
ipsum eiusmod amet sed lorem	tracking=0001 017 150	sit tempor tempor ipsum ipsum ipsum	date #401-51-1110
ssn=first_last@example.com | phone is +1 023 507 8754
credit 208218782 lorem sed OFFICE: 914402497 consectetur ipsum host
admin@acme-corp.io PAYMENT is NL91ABNA0417164300
sit ipsum,  is x+tag@localhost
ip: 705-68-0970
; amex #info@acme-corp.io; pan #first_last@localhost; payment
(415) 092-1038; adipiscing; version: info@sub.dom.co.uk
transfer
admin@logo@2x.png	ipsum dolor dolor	iban is 0004 504 444
tempor sit dolor | version=704867211 | credit=3446 2987 8705 4 | bank=GB82WEST12345698765432
REMOTE x+tag@sub.dom.co.uk routing +570783654 the=first_last@x.y elit email password = "qyzgH4me4wqpyg"
 email #2607 777 CONTACT: 9458 7895 6796 6
elit ipsum do ipsum sit eiusmod ROUTING #6259 3815 0709 81 lorem account=666-12-3456
date is 80-41 603-999; ipsum do eiusmod do; host #0004 392 095; ADDRESS is +1 083 800 5568; v. 3693 865
id api_key = 'EXAMPLEKEY' v.: jane.roe@localhost
, taxpayer is 69.50.91.91.71, elit eiusmod sit amet dolor, mail +1 484 918 3224, cc
info@example.com, INVOICE=537-677-5670
; iban
password = "k6Bp2hudEzwxck"; elit elit ipsum do consectetur sed;  is 519-531-0201; dolor do; isbn=admin@localhost
PORT #DE89 3704 0044 0532 0130 01
sed; ip is 922466435; adipiscing dolor tempor lorem; CONTACT #0005 582 578; MOBILE=AWS_SECRET_ACCESS_KEY=cWxfFUPw3ulD5H5eSfDYbl7nmH4ChgjgHcqh0Hmk
tempor consectetur consectetur ipsum	server=password = "Arbesx222jvefm"	AMEX is 9572 828	eiusmod sed adipiscing ipsum	amex #5590 3377 7176 062
do tempor	IBAN #094 9580 6619	sit consectetur eiusmod dolor	BANK is 2221 7895 1132 6	CALL #+784249152403783	sit tempor sed ipsum sed	tracking #07.05.2018 59
do sit server 574105023 sed ipsum lorem amet eiusmod email is 0004 406 688 
67-46 952-282 ORDER is first_last@localhost
serial is j@acme-corp.io | address=2a00:1450:4009:81f::200e
ORDER is x+tag@localhost host: 078 7260 6997
dolor dolor sed do tempor adipiscing amet | MOBILE
2379 810
id 43.72.68.52.67, elit tempor amet eiusmod elit ipsum elit, text me #005 2225 6349, client
2064-08-03 60
date: NL91ABNA0417164300, adipiscing sed, =453-143-5348
host
+49 (0) 07 7938 404
sit elit TEXT ME: 488 26 6702 ISBN is 3783194553013214392 date admin@localhost port #569-480-2042
cc 2.85.412.3, lorem sed, : +44 20 8867 3237, VISA: a.b.c.d@x.y, TAXPAYER #03.02.2025 95
consectetur sed tempor do elit | DIAL: 02.04.2035 28 | eiusmod amet consectetur amet eiusmod | text me 2001:db8::ff00:42:8329 | amet sed ipsum dolor | fax x+tag@sub.dom.co.uk
sit amet elit elit elit amet; office=22.88.82.77.69; isbn #2.67.593.0; ;  is 2a00:1450:4009:81f::200e
BANK=DE89 3704 0044 0532 0130 00
iban is j@logo@2x.png | amet eiusmod dolor | routing=2221349483810545 | adipiscing ipsum elit | CLIENT=1.2.3.4
tempor tempor TEXT ME postgres://admin:322760hunter@db.internal:5432/app =postgres://admin:286674hunter@db.internal:5432/app do adipiscing server=2048-02-25 11
 VERSION #(030) 598-3870
tracking=first_last@sub.dom.co.uk payment
(030) 102-0010 elit lorem eiusmod amet DATE
2a00:1450:4009:81f::200e bank is +1 729 865 8762
sit lorem sit do lorem iban: 5543253409936  ip is +917697863790 transfer
+49 (0) 88 6554 931
hotel: admin@localhost tempor consectetur do eiusmod elit sit amet hotel #+44 20 7733 9631  is 078-05-1120 do amet adipiscing amet ipsum consectetur iban 5169 5466 9201 4656 899
DATE #jane.roe@x.y; social security 666-12-3456; tempor elit ipsum sit consectetur ipsum ipsum; office: 002-48-8040; ; cc=6415 694
adipiscing elit tempor eiusmod sed eiusmod dolor, BANK x+tag@acme-corp.io, adipiscing ipsum, zip
jane.roe@acme-corp.io
version: 17-27 552-922 tempor dolor phone is ::1 do eiusmod sed invoice #411-15-2356 fax #6583978233388670790
ipsum; SERIAL is +1 691 612 8890
call #9512 592, sit lorem sit adipiscing dolor, ssn is api_key = 'EXAMPLEKEY'
, TEL
x+tag@acme-corp.io,  666-12-3456, zip is admin@mail.example.org, tel #71.62.11.89.63
 is 0009 187 552
ipsum lorem dolor do dolor; transfer: postgres://admin:340167hunter@db.internal:5432/app; adipiscing eiusmod dolor; TAXPAYER: +44 20 3633 9497; eiusmod sit elit amet eiusmod do sit; ISBN is 3.67.090.8
sit tempor consectetur adipiscing tempor consectetur	visa is 3491 8409 0707 6	card: 666-12-3456
amet adipiscing adipiscing	iban #token: ghp_wOAc1Rm4u9EpmbuyuuhgXxrNmmBXFpeA0pcS	adipiscing consectetur amet lorem sed ipsum elit	=GB82 WEST 1234 5698 7654 32	ID +8517029996
elit tempor adipiscing dolor amet lorem dolor port
262822742 bank: j@localhost TAXPAYER: 3530997268531507813 MOBILE: 52-39 566-322
eiusmod consectetur host 757132440 sit eiusmod consectetur dolor sed adipiscing PORT
10.0.0.1
adipiscing consectetur; phone
first_last@mail.example.org; ADDRESS is 03.04.2084 71; bank=014 40 6930; consectetur dolor adipiscing consectetur sed; pan=jane.roe@localhost
dolor amet sed	host: 5502679132324
sit adipiscing ipsum do sed dolor do | ssn: 615555679 | elit tempor sit sit sed | TRACKING #147 157.868 856 | elit | id=192.168.1.20 | tempor sit lorem lorem lorem | ZIP #password = "222dgBC4tyDBBB"
consectetur do	hotel: 666-12-3456
fax jane.roe@localhost | remote is api_key = 'EXAMPLEKEY'
server: 746158702 address GB82WEST12345698765432 TRANSFER: 22214899581673  order FR14 2004 1010 0505 0001 3M02 606
pan
319 240.038 500, host=+49 (0) 12 6609 374
tempor eiusmod lorem consectetur | ADDRESS=DE89 3704 0044 0532 0130 01 | serial is 192.168.1.20 | elit eiusmod adipiscing | : j@logo@2x.png
IBAN
110.193.221.56
ipsum lorem tempor	order=331627764	consectetur tempor ipsum dolor sed sit	tracking=042 67 0134	email
info@acme-corp.io	consectetur elit eiusmod adipiscing dolor sed	ssn 388 82 4122
CONTACT is +44 20 1889 3658, adipiscing elit elit elit amet, social security #token: ghp_X7jtGCiw5JIodkT4qFjEDEVNMTH4cSweD63b, serial
jane.roe@acme-corp.io
routing: +44 20 6009 3741
tempor ipsum	 5279 513
 is 3105 756 | elit lorem | isbn=3499 2355 4760 79 | tempor eiusmod amet | order=824 773.850 862
date=GB82WEST12345698765432; zip=6554 4968 4157 8; email
0004 478 542
ipsum lorem lorem elit eiusmod amet, MOBILE is +44 20 7479 7145, FAX is +44 20 1668 0004
phone is 326 60 3423
adipiscing tempor ipsum EMAIL=GB82WEST12345698765432
TRANSFER=5574856684720587611
VISA #3127 068 | TRACKING: 358 236.113 188
consectetur lorem	phone: postgres://admin:008839hunter@db.internal:5432/app	elit amet sit elit tempor amet	port #340432543790467	elit do sit lorem dolor adipiscing sed	pan: 28.89.66.39.65
tel: 192.168.1.20 | adipiscing ipsum sed dolor consectetur | : a.b.c.d@mail.example.org | ipsum | client: +96126639638910 | eiusmod do tempor sit sed | server: 5001 0495 8501 80
adipiscing adipiscing; VERSION
x+tag@acme-corp.io; email
de:ad:be:ef:00:01; dolor eiusmod; host is +44 20 3697 5606
ipsum amet dolor	ssn x+tag@sub.dom.co.uk	social security is 629 23 4354	eiusmod adipiscing dolor amet sed sed	host a.b.c.d@sub.dom.co.uk
adipiscing consectetur lorem amet adipiscing consectetur, tracking is +44 20 0605 9136, ACCOUNT 906 60 6001
bank 1.2.3.4, routing 2221820953851538445, consectetur ipsum elit eiusmod, date #j@acme-corp.io, eiusmod, taxpayer: fe80::1:2
tempor lorem eiusmod amet adipiscing |  is 034 4543 7642 | eiusmod tempor amet ipsum do tempor | ORDER=1.29.003.2 | elit | invoice 2062-09-24 85 | lorem | office is +44 20 4498 0820
call is 92.26.15.30.11	office=32-87 882-385	 #admin@localhost	ipsum consectetur tempor amet lorem sed elit	mail
0006 603 046
, the (212) 566-8114
eiusmod tempor lorem eiusmod eiusmod consectetur fax #de:ad:be:ef:00:01 eiusmod dolor dolor ipsum tempor sit TEL: jane.roe@localhost
dial +1560357183574; =044 6007 4903
mail: (415) 997-8559  host=194601320 tracking is DE89 3704 0044 0532 0130 00 ip is +947131000691
tempor amet | MOBILE: 5118 8807 2310 2988 851
lorem eiusmod ipsum consectetur adipiscing ipsum elit, ip
50992379136283, elit do do tempor sit sed,  #479-57-1333, DATE: NL91ABNA0417164300
 is +44 20 3016 5690
sit; order: 6011 0302 6661 3908
elit serial #+86185522360423 the admin@mail.example.org
MAIL is 1.2.3.4, tempor sed tempor tempor tempor ipsum, card
jane.roe@acme-corp.io, : 4115 256
=52.54.31.56.99	eiusmod eiusmod elit adipiscing	client: (212) 263-3269	transfer
078-05-1120
host=2099-10-06 48; host is 499-776-2395
tempor ipsum sit order=37732807748269
call is 353018124387033; adipiscing elit lorem; : GB82 WEST 1234 5698 7654 32; ROUTING=FR14 2004 1010 0505 0001 3M02 606
eiusmod lorem lorem; 
jane.roe@acme-corp.io
dolor do sit eiusmod amet sed	mobile: +7892694640	the a.b.c.d@acme-corp.io	pan: 5130 2264 0214 913
mail is de:ad:be:ef:00:01 | sit | cc #AWS_SECRET_ACCESS_KEY=qXILyCQU9kVg3EC+lMbjSyf0dyacOHkC8U4fSgW6 | bank=password = "54epe37evkF7ma" | DATE: 3530 6643 6864 7
host 911368775, eiusmod elit adipiscing adipiscing do dolor ipsum, ISBN is 1.2.3.4
email
a.b.c.d@example.com, , visa #jane.roe@x.y
dolor elit dolor sit lorem dolor sed, pan is 666-12-3456, lorem amet adipiscing sit adipiscing lorem, ssn GB82WEST12345698765432
sed sed dolor elit | routing
352 388.672 582 |  | HOTEL
127.0.0.1 | TEXT ME x+tag@sub.dom.co.uk
amet eiusmod	address
AWS_SECRET_ACCESS_KEY=CKDkY1X0Ru5aqoGeZStc60jYy8x+SQokN+rKuvpW	eiusmod sit do sed sed ipsum do	
6517 6378 7780 1	ipsum adipiscing	card 2a00:1450:4009:81f::200e	serial is 62-00 324-581
tracking
15.11.2082 54	consectetur elit sed sit ipsum do eiusmod	zip
6214575220011861911		card: +49 (0) 84 7005 451	ORDER
admin@acme-corp.io
adipiscing do	invoice +95958761	ip=DE89 3704 0044 0532 0130 01	SOCIAL SECURITY #jane.roe@logo@2x.png
, INVOICE #admin@logo@2x.png,  #0694 505
sit do eiusmod ipsum do; version=29-84 610-460
