import json, re, statistics as st
from collections import Counter, defaultdict
P=[json.loads(l) for l in open('picks_round3.jsonl')]
G=[json.loads(l) for l in open('grades_round3.jsonl')]
G1=[json.loads(l) for l in open('grades_round1.jsonl')]; G2=[json.loads(l) for l in open('grades_round2.jsonl')]
assert [g['paper'] for g in G]==[p['paper'] for p in P]
def share(rows):
    c=Counter(r['grade'] for r in rows); n=len(rows)
    return f"{n} | " + " | ".join(f"{c[k]} ({round(100*c[k]/n)}%)" for k in ('good','acceptable','bad')) if n else '0'
print('overall |', share(G), '|| r2', share(G2), '|| r1', share(G1))
for key in ('reader','kind'):
    for v in sorted(set(g[key] for g in G)):
        print(key, v, '|', share([g for g in G if g[key]==v]), '|| r2', share([g for g in G2 if g[key]==v]), '|| r1', share([g for g in G1 if g[key]==v]))
car=[g for g in G if g['earlier_grade']]; new=[g for g in G if not g['earlier_grade']]
print('carried', share(car), 'new', share(new))
print('changes', Counter((g['earlier_grade'],g['grade']) for g in car if g['earlier_grade']!=g['grade']))
piles=defaultdict(list)
for p,g in zip(P,G):
    if g['grade']=='bad': piles[g['pile']].append((p,g))
for k,v in sorted(piles.items(), key=lambda kv:-len(kv[1])):
    print(f"\n{k}: {len(v)} (new {sum(1 for _,g in v if not g['earlier_grade'])}) kinds={dict(Counter(p['kind'] for p,_ in v))} readers={dict(Counter(p['reader'] for p,_ in v))} margin_med={round(st.median([p['cosine']-p['floor'] for p,_ in v]),3)}")
    for p,g in v: print('   -', p['kind'], p['reader'][:8], p['title'][:70], '|', p['reason'].split('—')[-1][:50] if '—' in p['reason'] else '(no phrase)', '|', round(p['cosine']-p['floor'],3))
print('\nr2 piles', Counter(g.get('pile') for g in G2 if g['grade']=='bad')); print('r1 piles', Counter(g.get('pile') for g in G1 if g['grade']=='bad'))
nb=Counter(); nbb=Counter()
for p,g in zip(P,G):
    m=re.search(r'[Cc]lose to “(.*?)”',p['reason'])
    if m: nb[(p['reader'][:8],m.group(1)[:45])]+=1; nbb[(p['reader'][:8],m.group(1)[:45],g['grade'])]+=1
for k,c in nb.most_common(10): print(c,k,{gr:nbb[k+(gr,)] for gr in ('good','acceptable','bad')})
for gr in ('good','acceptable','bad'):
    m=[p['cosine']-p['floor'] for p,g in zip(P,G) if g['grade']==gr]; print(gr,'median margin',round(st.median(m),3))
near=[g for p,g in zip(P,G) if p['cosine']-p['floor']<0.03]; print('within .03 of floor', share(near))
nop=[g for p,g in zip(P,G) if '—' not in p['reason']]; print('no phrase', share(nop)); print('with phrase', share([g for p,g in zip(P,G) if '—' in p['reason']]))
print('new-subfield claims', Counter((p['reader'][:8],p['category']) for p in P if 'subfield new' in p['reason']))
print('days', Counter(p['day'] for p in P if p['day']<='2018-04-15'), 'early-day picks', share([g for g in G if g['day']<='2018-04-15']), 'later', share([g for g in G if g['day']>'2018-04-15']))
