import json, statistics as st
from collections import Counter, defaultdict
P=[json.loads(l) for l in open('picks_round2.jsonl')]
G=[json.loads(l) for l in open('grades_round2.jsonl')]
G1=[json.loads(l) for l in open('grades_round1.jsonl')]
assert [g['paper'] for g in G]==[p['paper'] for p in P]
def share(rows):
    c=Counter(r['grade'] for r in rows); n=len(rows)
    return f"{n} | " + " | ".join(f"{c[k]} ({round(100*c[k]/n)}%)" for k in ('good','acceptable','bad'))
print('overall |', share(G)); print('round1 overall |', share(G1))
for key in ('reader','kind'):
    for v in sorted(set(g[key] for g in G)):
        print(key, v, '|', share([g for g in G if g[key]==v]), '|| r1', share([g for g in G1 if g[key]==v]))
print('carried', share([g for g in G if g['round1_grade']]), 'new', share([g for g in G if not g['round1_grade']]))
print('grade changes', sum(1 for g in G if g['round1_grade'] and g['round1_grade']!=g['grade']))
bad=[(p,g) for p,g in zip(P,G) if g['grade']=='bad']
piles=defaultdict(list)
for p,g in bad: piles[g['pile']].append((p,g))
for k,v in sorted(piles.items(), key=lambda kv:-len(kv[1])):
    print(f"\n{k}: {len(v)} (new {sum(1 for _,g in v if not g['round1_grade'])}) kinds={dict(Counter(p['kind'] for p,_ in v))} readers={dict(Counter(p['reader'] for p,_ in v))}")
    print('  margin median', round(st.median([p['cosine']-p['floor'] for p,_ in v]),3))
    for p,g in v: print('   -', p['kind'], p['reader'][:8], p['title'][:70], '|', p['reason'].split('—')[-1][:60] if '—' in p['reason'] else '(no phrase)')
print('\nr1 piles', Counter(g.get('pile') for g in G1 if g['grade']=='bad'))
# hub/neighbour read counts
import re
nb=Counter(); nbb=Counter()
for p,g in zip(P,G):
    m=re.search(r'[Cc]lose to “(.*?)”',p['reason'])
    if m: nb[(p['reader'][:8],m.group(1)[:50])]+=1; nbb[(p['reader'][:8],m.group(1)[:50],g['grade'])]+=1
for k,c in nb.most_common(8): print(c,k,{gr:nbb[k+(gr,)] for gr in ('good','acceptable','bad')})
# false "new subfield" claim
print('new-subfield claims', Counter((p['reader'][:8],p['category']) for p in P if 'subfield new' in p['reason']))
# margins
for gr in ('good','acceptable','bad'):
    m=[p['cosine']-p['floor'] for p,g in zip(P,G) if g['grade']==gr]; print(gr,'median margin',round(st.median(m),3))
near=[g for p,g in zip(P,G) if p['cosine']-p['floor']<0.03]; print('within .03 of floor', share(near))
