"""Korean twins (tag lang:ko) of source/week08-flow/flow.ipynb, for tools/ko_twins.py (issue 17):

    .venv/bin/python tools/ko_twins.py apply source/week08-flow/flow.ipynb tools/ko/week08-flow.py
    .venv/bin/python tools/ko_twins.py check source/week08-flow/flow.ipynb

MD: the Korean of every markdown cell, by base cell id. CODE: (English, Korean) fragments of the docstrings and
comments of every code cell students read; ko_twins replaces each once and fails when one is gone. EN: the English
each MD entry translates; `ko_twins.py apply` refuses, naming the cell, when it has changed since, and `ko_twins.py
check` names a cell that lacks a twin. Terms: docs/glossary.md (week 8 has its own section).
"""

from __future__ import annotations

# Markdown cells, by base cell id, in notebook order.
MD = {
    "14ff3e02": r"""
# 8주차 — 정규화 흐름: 데이터에서 노이즈로 가는 가역 변환과 정확한 가능도

5~7주차에는 강의 노트가 소개하는 생성 모델(generative model)의 네 계열 가운데 세 가지를 만들었습니다. 생성적 적대
신경망(GAN, 가능도가 전혀 없음), 변분 오토인코더(VAE, 가능도의 하한), 확산 모델(diffusion model, 노이즈를 한 단계씩
더하고 제거함)입니다. 이번 주에는 네 번째 계열인 **정규화 흐름**(normalizing flow; 강의 노트의 Flow-based Models)을
만듭니다. 정규화 흐름(normalizing flow)은 **구조상 가역인**(invertible) 신경망 $f$입니다. 그 *인코더*(encoder)
$z = f(x)$는 데이터 점을 표준 가우시안(standard Gaussian) 노이즈처럼 보여야 하는 잠재 공간(latent space)의 점으로
보내고, *디코더*(decoder)는 역변환을 근사하도록 학습한 두 번째 신경망이 아니라 **정확한 역변환**(exact inverse)
$x = f^{-1}(z)$ 그 자체입니다. $f$가 가역이고 미분 가능하므로 변수 변환 공식(change-of-variables formula)이 모든
데이터 점의 **정확한** 로그 가능도(log-likelihood)를 주며, 따라서 학습은 평범한 최대 가능도(maximum likelihood)
추정입니다.

2차원 데이터에서 Dinh et al.(2017)의 RealNVP 흐름을 구현합니다.

1. **아핀 커플링 층**(affine coupling layer): **`coupling_forward`**, 그 정확한 역변환 **`coupling_inverse`**,
   그리고 야코비 행렬(Jacobian)의 로그 행렬식(log-determinant) **`log_det`**
2. 층을 쌓은 흐름 **`flow_forward`**, 변수 변환 공식으로 구하는 가능도 **`flow_log_prob`**, 그리고 가우시안 노이즈를
   뽑아 흐름을 거꾸로 실행하는 **`sample`**
3. 두 반달(two moons) 데이터에서 최대 가능도로 학습하는 **`train_flow`**
4. 그다음 밀도(density)가 한 단계씩 학습되는 모습을 지켜보고, 샘플을 뽑고, 각 데이터 점이 잠재 공간의 어디에
   놓이는지 살펴봅니다.

**채점 방식.** 비공개 검사(hidden checks)는 아래 함수들을 정확히 그 시그니처로 CPU에서, 그리고 (채점기에 있다면)
GPU에서 호출하며, 층 수, 폭, 차원, 시드는 공개 검사와 다릅니다. 비공개 검사는 로그 행렬식을 자동 미분(automatic
differentiation)으로 계산한 야코비 행렬의 행렬식과 비교하고, 여러분이 학습한 흐름을 채점기 **자신의** 흐름 구현으로
판정합니다. 채점기의 구현은 여러분의 학습이 한 번도 보지 못한 평가용(held-out) 점들의 음의 로그 가능도(NLL)를
계산하고, 그것을 가장 좋은 가우시안의 값과 비교합니다. 채점되는 함수는 모두 노트북의 최상위에 두고 이름을 바꾸지
마십시오. 각 연습 문제 뒤의 작은 검사 셀은 공개 검사이며 점수가 없습니다. `skip-grading` 태그가 붙은 셀(그래프, 오래
걸리는 학습)은 채점기가 실행하지 않으므로, 나중에 필요한 것을 그런 셀에서만 정의하면 안 됩니다. 제출하기 전에
*Kernel → Restart & Run All*과 `autograder check flow.ipynb`를 실행하십시오.

**데이터.** 합성 데이터입니다. "두 반달"(가우시안 노이즈를 더한, 서로 맞물린 반원 두 개로, scikit-learn
`make_moons`의 장난감 데이터)을 이 노트북에서 직접 뽑습니다. 아무것도 내려받지 않습니다.
""",
    "ab1772d6": r"""
## 0. 데이터: 두 반달

각 점은 확률 ½로 두 반원 가운데 하나를 고릅니다. 위쪽 반달 $(\cos\theta, \sin\theta)$ 또는 아래쪽 반달
$(1 - \cos\theta,\ \tfrac12 - \sin\theta)$이며 $\theta \sim U[0, \pi]$입니다. 여기에 표준편차가 $0.1$인 가우시안
노이즈를 더합니다. 밀도는 휘어진 가는 띠 두 개에 몰려 있습니다. 어떤 가우시안도, 가우시안의 어떤 단순한 변환도 이
밀도에 맞지 않습니다. `make_moons`는 float32 점들과 각 점의 반달(1 = 위쪽)을 반환합니다. 비공개 검사는 검사만 아는
방식으로 회전하고 이동한 반달에서 여러분의 흐름을 학습시키고, 학습에 쓰지 않은 점들에서 판정합니다.
""",
    "ce6033d9": r"""
## 1. 변수 변환과 아핀 커플링 층

**변수 변환.** $f: \mathbb{R}^D \to \mathbb{R}^D$가 가역이고 미분 가능하며, $z = f(x)$의 밀도가 $p_Z$(여기서는 표준
가우시안)라고 합시다. 그러면 $x$의 밀도는 다음과 같습니다.

$$ \log p_X(x) = \log p_Z\big(f(x)\big) + \log\left|\det \frac{\partial f(x)}{\partial x}\right| . $$

*1차원 예:* $f(x) = 2x + 1$이고 $z \sim \mathcal{N}(0, 1)$이라고 합시다. 그러면
$x = (z - 1)/2 \sim \mathcal{N}(-\tfrac12, \tfrac14)$이고, 실제로
$\log p_X(x) = \log \mathcal{N}(2x + 1; 0, 1) + \log 2$입니다. 이 변환은 공간을 2배로 **늘이므로**, 변환이 출발하는
$x$ 쪽에서는 밀도가 2배로 **진해져야** 합니다. $\log|\det|$ 항을 빠뜨리면 "밀도"의 적분이 더 이상 1이 아니고, 그
부호를 뒤집으면 적분은 또 다른 값이 됩니다(아래에서 두 경우를 모두 보게 됩니다).

일반적인 신경망이라면 $D \times D$ 야코비 행렬의 $\det$를 계산하는 데 $O(D^3)$이 들고, 역변환이 존재하지 않을 수도
있습니다. **커플링 층**(coupling layer)은 둘 다 쉬워지도록 만든 층입니다. 이진 **마스크**(mask) $b \in \{0, 1\}^D$로
좌표를 나눕니다. $b_j = 1$인 좌표는 **유지되고**(그대로 복사됨), 나머지 좌표는 유지되는 좌표만으로 계산한 양만큼
스케일되고 이동합니다.

$$ y = b \odot x + (1 - b) \odot \big(x \odot e^{s(b \odot x)} + t(b \odot x)\big) . $$

* **역변환.** $y$의 유지되는 좌표는 $x$의 것과 같으므로 $s$와 $t$를 $y$로부터 다시 계산할 수 있습니다.
  $x = b \odot y + (1 - b) \odot \big(y - t(b \odot y)\big) \odot e^{-s(b \odot y)}$입니다. 신경망의 역을 구할
  필요가 전혀 없으며, $s$와 $t$는 어떤 함수여도 됩니다.
* **로그 행렬식.** 유지되는 좌표를 앞에 놓으면 야코비 행렬은 삼각 행렬이 되고, 대각 성분은 유지되는 좌표에서 1,
  나머지 좌표에서 $e^{s_j}$입니다. 따라서
  $\log|\det \partial y / \partial x| = \sum_j (1 - b_j)\, s_j(b \odot x)$입니다. 행렬식이 아니라 합입니다.
  (역변환의 로그 행렬식은 이것의 음수입니다.)

*예:* $D = 2$, $b = (1, 0)$, $x = (0.5, 2)$이고, $s(b \odot x) = (\cdot, \ln 3)$, $t(b \odot x) = (\cdot, -1)$이라고
합시다. 그러면 $y = (0.5,\ 2 \cdot 3 - 1) = (0.5, 5)$이고, 로그 행렬식은 $\ln 3$이며, 역변환은
$x_2 = (5 - (-1)) / 3 = 2$를 되돌려 줍니다. (유지되는 위치의 $s$와 $t$ 원소는 쓰이지 않습니다.)

**컨디셔너(conditioner, 주어짐).** 층마다 작은 MLP 하나가 $s$와 $t$를 함께 계산합니다. 입력은 마스크를 씌운 점
$b \odot x$($D$개의 수)이고, SiLU를 쓰는 폭 $H$의 은닉층 두 개를 거쳐 $2D$개의 수를 출력합니다. 앞의 $D$개는
가공하지 않은 로그 스케일, 뒤의 $D$개는 이동량입니다. 로그 스케일은 $\tanh$를 거치므로 $|s_j| < 1$입니다. $s$에
제한이 없으면 학습 초기에 $e^{s}$가 오버플로합니다. 한 층의 매개변수(parameter)는
`nn.Sequential(Linear(D, H), SiLU(), Linear(H, H), SiLU(), Linear(H, 2D))`의 배치를 따르는 dict입니다. 키는
`"net.0.weight"` $(H, D)$, `"net.0.bias"`, `"net.2.weight"` $(H, H)$, `"net.2.bias"`, `"net.4.weight"` $(2D, H)$,
`"net.4.bias"`입니다(PyTorch `state_dict`의 이름이며, 층 하나는 `h @ W.T + b`입니다). 흐름은 그런 dict의
**리스트**이며, 층 0(데이터에 가장 먼저 적용되는 층)이 맨 앞입니다.

**마스크는 번갈아 바뀝니다.** 층은 유지되는 좌표를 건드리지 않으므로, 모두 같은 좌표를 유지하는 층들을 쌓으면 그
좌표들은 끝내 변환되지 않습니다. 층 $k$는 `layer_mask(k, D)`를 씁니다. $j + k$가 짝수이면 $b_j = 1$이므로, 2차원에서
층 0은 $x_1$을 유지하고 $x_2$를 변환하며, 층 1은 $x_2$를 유지하고 $x_1$을 변환하는 식입니다(층 사이의
"순열(permutation)").

**규약(계약의 일부).** 모든 함수는 입력의 dtype과 장치(device)에서 동작합니다. `mask`는 0과 1로 이루어진 형태
$(D,)$의 float 텐서이며, `x`와 같은 dtype과 장치에 있습니다. `log_det`는 행마다 수 하나, 즉 형태 $(B,)$를
반환합니다.
""",
    "b20015b7": r"""
### 연습 문제 1a — `coupling_forward(layer, x, mask)`
`s, t = conditioner(layer, mask * x)`로 $y = b \odot x + (1 - b) \odot (x \odot e^{s} + t)$를 계산해 형태 $(B, D)$로
반환하십시오. 유지되는 좌표는 입력의 것과 **정확히** 같아야 합니다.

### 연습 문제 1b — `coupling_inverse(layer, y, mask)`
정확한 역변환 $x = b \odot y + (1 - b) \odot (y - t) \odot e^{-s}$를 반환하십시오. 여기서
`s, t = conditioner(layer, mask * y)`입니다. float64에서
`coupling_inverse(layer, coupling_forward(layer, x, mask), mask)`는 약 $10^{-12}$ 이내로 `x`를 되돌려 주어야 합니다.

### 연습 문제 1c — `log_det(layer, x, mask)`
`x`의 각 행에서 `coupling_forward`의 $\log|\det \partial y / \partial x|$, 즉 $\sum_j (1 - b_j)\, s_j$를 형태
$(B,)$로 반환하십시오.
""",
    "8f146eec": r"""
**층 하나가 하는 일.** 아래 그림은 무작위 가중치를 가진 커플링 층 하나에 정사각형 격자를 통과시킵니다. 세로선은
세로선으로 남습니다($x_1$이 유지됨). 각 세로선은 그 위치에 따라 달라지는 양만큼 $x_2$ 방향으로 늘어나고 이동합니다.
색은 로그 행렬식입니다. 로그 행렬식이 양수인 곳에서는 층이 공간을 늘이므로, 그곳의 밀도를 *낮춥니다*.
""",
    "d2edca86": r"""
## 2. 흐름: 층 쌓기, 가능도, 샘플링

흐름은 $f = f_{L-1} \circ \dots \circ f_1 \circ f_0$이며, 층 $k$는 마스크 `layer_mask(k, D)`를 씁니다. 합성한 변환의
로그 행렬식은 **더해집니다**(연쇄 법칙에 따라 야코비 행렬들이 곱해지고, 곱의 행렬식은 행렬식들의 곱입니다).

$$ \log p(x) = \log \mathcal{N}\big(f(x); 0, I\big) + \sum_{k} \log\left|\det J_{f_k}(x_k)\right|, \qquad
   \log \mathcal{N}(z; 0, I) = -\tfrac12 \|z\|^2 - \tfrac{D}{2}\log 2\pi , $$

여기서 $x_0 = x$, $x_{k+1} = f_k(x_k)$입니다. 각 층의 로그 행렬식은 **그 층의 입력**에서 계산합니다.

### 연습 문제 2a — `flow_forward(params, x)`
층들을 순서대로(층 0 먼저) 각자의 마스크 `layer_mask(k, D)`(`x`의 dtype과 장치로 옮긴 것)로 실행하고,
`(z, total_log_det)`, 즉 잠재 공간의 점들 $(B, D)$와 합한 로그 행렬식 $(B,)$를 반환하십시오.

### 연습 문제 2b — `flow_log_prob(params, x)`
모든 행의 $\log p(x)$를 위의 공식으로 계산해 내트(nat) 단위로, 형태 $(B,)$로 반환하십시오.
""",
    "a864bf1f": r"""
### 연습 문제 2c — `sample(params, n, generator)`
$z \sim \mathcal{N}(0, I)$를 뽑고 흐름을 **거꾸로** 실행하십시오. 같은 마스크로 층 $L-1$의 `coupling_inverse`부터
시작해 층 0까지 내려갑니다. 올바른 풀이라면 모두 같은 시드에서 같은 샘플을 뽑도록, **난수를 뽑는 방식도 계약의
일부입니다**. CPU에서 `z = torch.randn(n, D, generator=generator, dtype=torch.float64)`를 한 번 뽑은 다음
매개변수(`params[0]["net.0.weight"]`, $D$는 그 열의 개수)의 장치와 dtype으로 옮기고, 모든 계산은 거기서 합니다.
그곳에서 $(n, D)$ 샘플을 반환하십시오. 샘플링에는 기울기(gradient)가 필요 없으므로 `torch.no_grad()`를 쓰십시오.
""",
    "5c84a2b8": r"""
## 3. 최대 가능도로 학습하기

### 연습 문제 3 — `train_flow(data, steps, batch_size, lr, seed, num_layers=8, hidden=64)`
* `generator = torch.Generator().manual_seed(seed)`와 `D = data.shape[1]`로
  `params = init_flow(generator, num_layers, D, hidden)`을 만들고, 모든 텐서를 `DEVICE`로 옮겨
  `requires_grad_(True)`를 적용합니다.
* `flow_tensors(params)`에 학습률(learning rate) `lr`로 평범한 Adam을 씁니다.
* 단계마다 배치의 행을 `torch.randint(0, len(data), (batch_size,), generator=generator)`로 (CPU에서) 뽑고,
  `DEVICE`로 옮긴 float32 배치에서 음의 로그 가능도 `-flow_log_prob(params, batch).mean()`을 최소화합니다.
* 학습한 매개변수를 분리(detach)해서(장치는 상관없음) `init_flow`의 배치대로 반환합니다.

공개 검사는 몇 단계만 실행합니다. 아래의 실제 실행(`skip-grading` 태그)은 몇 초 걸립니다. 채점기는 자신의 반달
데이터에서 배치 256, `lr = 3e-3`으로 600단계 동안 여러분의 `train_flow`를 학습시키고, **자신의** 흐름 구현으로
평가용 점 2,000개의 음의 로그 가능도를 계산합니다. 그 값은 같은 학습 데이터에 맞춘 가장 좋은 가우시안의 값보다
충분히 낮아야 합니다.
""",
    "2452057c": r"""
### 한 단계씩 학습되는 밀도
아래 셀은 구간별로 나누어 학습하고(여러분의 `train_flow`와 같은 절차이며, 옵티마이저(optimizer)는 구간 사이에
유지됩니다) 0, 25, 100, 300, 600단계 뒤의 $p(x)$를 격자 위에 보여 줍니다. 0단계에서는 모든 층이 항등 변환이므로
밀도는 표준 가우시안이고, 그 뒤로 확률 질량이 두 반달 위로 옮겨 갑니다. 숫자는 평가용 점의 음의 로그 가능도이며,
가장 좋은 가우시안의 값과 비교해 보십시오.
""",
    "6f97dc11": r"""
### 샘플
디코딩은 인코딩의 정확한 역변환입니다. 가우시안 노이즈를 뽑아 `sample`을 실행합니다. 몇 단계만 학습한 흐름은 아직
거의 가우시안입니다.
""",
    "5a3ab1a1": r"""
### 잠재 공간: 각 데이터 점이 가는 곳
인코더 $z = f(x)$는 모든 데이터 점을 잠재 공간으로 보냅니다. 흐름이 데이터에 잘 맞으면 인코딩한 학습 점들은
$\mathcal{N}(0, I)$에서 뽑은 것처럼 보입니다. 점들을 반달별로 색칠하면 각 반달은 가우시안의 한 영역이 되고, 두 반달
사이의 빈틈은 밀도가 낮은 가는 띠로 눌려 들어갑니다. 데이터 공간에 그린 격자는 흐름이 그렇게 하려고 공간을 어떻게
구부리는지 보여 줍니다.
""",
    "c0cd9b90": r"""
생각해 볼 질문(채점하지 않음): 모든 층이 같은 마스크를 쓰는 흐름은 아무리 오래 학습해도 반달에 맞지 않는데, 그
이유는 무엇입니까? $s$를 $\tanh$로 제한하면 무엇을 잃으며, 표현력(expressiveness)을 되찾으려면 무엇을 더할 수
있겠습니까? 흐름은 입력의 차원을 유지해야 합니다. 이것은 6주차 VAE의 잠재 공간과 어떻게 다릅니까? VAE는 하한만 주고
GAN은 아무것도 주지 못했는데, 흐름은 어떻게 정확한 가능도를 보고할 수 있습니까?

## 요약

* **정규화 흐름**(normalizing flow)은 가역 신경망입니다. 인코더 $z = f(x)$와 디코더 $x = f^{-1}(z)$는 같은 변환을 두
  방향으로 실행한 것이며, **변수 변환 공식**이 정확한 로그 가능도를 줍니다.
* **아핀 커플링 층**은 일부 좌표를 유지하고 나머지 좌표를 유지한 좌표의 함수로 스케일하고 이동합니다. 그 역변환에는
  신경망의 역이 필요 없고, 로그 행렬식은 로그 스케일의 **합**입니다.
* 마스크는 층마다 **번갈아** 바뀌어야 하고, 각 층의 로그 행렬식은 그 층의 입력에서 계산하며, 전체 로그 행렬식은 그
  합입니다.
* 학습은 최대 가능도 추정이며, 채점기는 학습된 흐름을 평가용 점에서 **자신이** 계산한 가능도로 판정합니다.

**제출하기 전에:** *Kernel → Restart & Run All*을 실행한 다음 `autograder check flow.ipynb`를 실행하십시오. 채점되는
함수의 이름이나 시그니처를 바꾸지 마십시오.
""",
}

# Code cells: (English fragment, Korean fragment) pairs, each replaced once in the base source (ko_twins fails loudly
# when a fragment is gone). Code, strings the code uses and assertion messages stay English.
CODE = {
    "078bbf39": [  # setup
        ("# The networks are tiny: one CPU thread is as fast as several and is not slowed down when the machine"
         " is busy.",
         "# 신경망이 아주 작으므로 CPU 스레드 하나로도 여러 개만큼 빠르고, 기계가 바쁠 때도 느려지지 않습니다."),
        ("# Training uses a GPU when there is one; everything also runs on the CPU.",
         "# 학습은 GPU가 있으면 GPU를 씁니다. 모든 것이 CPU에서도 실행됩니다."),
    ],
    "c00de7f4": [  # make_moons, gaussian_nll
        ("n points of two moons, float32 (n, 2), and which moon each is on, int64 (n,) (1 = upper).\n"
         "    Per point, in this order of draws: moon ~ Bernoulli(1/2), theta ~ U[0, pi]; then the noise for all"
         " points.",
         "두 반달의 점 n개 float32 (n, 2)와 각 점이 놓인 반달 int64 (n,) (1 = 위쪽).\n"
         "    점마다 moon ~ Bernoulli(1/2), theta ~ U[0, pi]를 이 순서로 뽑고, 그다음 모든 점의 노이즈를 뽑습니다."),
        ("Held-out negative log-likelihood (nats per point) of the best Gaussian (mean and full covariance fitted to\n"
         "    train by maximum likelihood): the baseline a flow has to beat.",
         "가장 좋은 가우시안(평균과 전체 공분산을 train에 최대 가능도로 맞춘 것)의 평가용 데이터 음의 로그 가능도\n"
         "    (점당 내트): 흐름이 넘어서야 하는 기준선."),
    ],
    "f1ace52f": [  # layer_mask, init_flow, conditioner, flow_tensors, map_flow, random_flow
        ("The mask (dim,), float64 CPU, of layer k: 1 (kept) where j + k is even, 0 (transformed) elsewhere.",
         "층 k의 마스크 (dim,), float64, CPU: j + k가 짝수인 곳은 1(유지), 나머지는 0(변환)."),
        ("Parameters (float32, CPU) of a flow: a list of num_layers conditioner dicts (net.0, net.2 drawn as"
         " nn.Linear\n"
         "    draws them: uniform, 1/sqrt(fan_in)). The output layer net.4 starts at zero, so s = t = 0 and every layer"
         " starts\n"
         "    as the identity: training starts from the standard Gaussian.",
         "흐름의 매개변수(float32, CPU): 컨디셔너 dict num_layers개의 리스트(net.0과 net.2는 nn.Linear와 같은\n"
         "    방식으로 뽑습니다: 균등 분포, 1/sqrt(fan_in)). 출력층 net.4는 0에서 시작하므로 s = t = 0이고 모든 층이\n"
         "    항등 변환으로 시작합니다. 즉 학습은 표준 가우시안에서 시작합니다."),
        ("(s, t), each (B, D), from the masked input x_kept = mask * x (B, D): s = tanh(first D outputs), t = last D.",
         "마스크를 씌운 입력 x_kept = mask * x (B, D)로 계산한 (s, t), 각각 (B, D):\n"
         "    s = tanh(앞쪽 D개 출력), t = 뒤쪽 D개."),
        ("All tensors of a flow in a fixed order (for an optimizer).",
         "흐름의 모든 텐서를 정해진 순서로(옵티마이저용)."),
        ("A new flow with fn applied to every tensor, e.g. map_flow(p, torch.Tensor.double).",
         "모든 텐서에 fn을 적용한 새 흐름. 예: map_flow(p, torch.Tensor.double)."),
        ("A flow (float64) whose every parameter matters: init_flow with a random output layer. For checks and demos.",
         "모든 매개변수가 결과에 영향을 주는 흐름(float64): 출력층을 무작위로 뽑은 init_flow. 검사와 데모용."),
    ],
    "229ecb90": [  # coupling_forward (answer)
        ("y = mask * x + (1 - mask) * (x * exp(s) + t), with (s, t) = conditioner(layer, mask * x).",
         "y = mask * x + (1 - mask) * (x * exp(s) + t), 여기서 (s, t) = conditioner(layer, mask * x)."),
    ],
    "f05dd003": [  # coupling_inverse (answer)
        ("The exact inverse of coupling_forward: x = mask * y + (1 - mask) * (y - t) * exp(-s), (s, t) from mask * y.",
         "coupling_forward의 정확한 역변환: x = mask * y + (1 - mask) * (y - t) * exp(-s), (s, t)는 mask * y로"
         " 계산합니다."),
    ],
    "fe1dc4bc": [  # log_det (answer)
        ("log |det d coupling_forward / dx| at each row of x, shape (B,): the sum of s over the transformed"
         " coordinates.",
         "x의 각 행에서 구한 log |det d coupling_forward / dx|, 형태 (B,): 변환되는 좌표에 대한 s의 합."),
    ],
    "4ac8ac8d": [  # public check of the coupling layer
        ("# the Jacobian of one point by automatic differentiation, and its log-determinant",
         "# 자동 미분으로 구한 점 하나의 야코비 행렬과 그 로그 행렬식"),
    ],
    "1c658968": [  # flow_forward (answer)
        ("(z, total_log_det): x (B, D) through the layers 0, 1, ... with masks layer_mask(k, D); log-dets"
         " summed, (B,).",
         "(z, total_log_det): x (B, D)를 층 0, 1, ...에 마스크 layer_mask(k, D)로 통과시킨 결과와, 합한 로그"
         " 행렬식 (B,)."),
    ],
    "f7d7565d": [  # flow_log_prob (answer)
        ("log p(x) (B,) by change of variables: log N(flow_forward(x); 0, I) + the summed log-determinants.",
         "변수 변환으로 구한 log p(x) (B,): log N(flow_forward(x); 0, I) + 합한 로그 행렬식."),
    ],
    "e4dd725f": [  # public check of the flow
        ("# by hand, layer by layer", "# 손으로 한 층씩 계산한 값"),
        ("# the identity flow (as initialised): log p is the standard Gaussian's",
         "# 항등 흐름(초기화한 그대로): log p는 표준 가우시안의 로그 밀도입니다"),
        ("# a density integrates to 1: a Riemann sum over a grid", "# 밀도의 적분은 1입니다: 격자 위의 리만 합"),
    ],
    "46e0281b": [  # sample (answer)
        ("n samples (n, D): z = randn(n, D, float64) from generator (CPU, then moved to the device and dtype of\n"
         "    params[0][\"net.0.weight\"]), then coupling_inverse through the layers L-1, ..., 0.",
         "샘플 n개 (n, D): generator로 z = randn(n, D, float64)를 뽑고(CPU에서 뽑은 뒤\n"
         "    params[0][\"net.0.weight\"]의 장치와 dtype으로 옮김), 층 L-1, ..., 0의 순서로 coupling_inverse를"
         " 적용합니다."),
    ],
    "f3bb996b": [  # train_flow (answer)
        ("Train a flow (init_flow(generator, num_layers, D, hidden)) with Adam at the constant rate lr on the mean\n"
         "    negative log-likelihood of batches whose rows are drawn from torch.Generator().manual_seed(seed).\n"
         "    Returns the trained parameters, detached.",
         "흐름(init_flow(generator, num_layers, D, hidden))을 일정한 학습률 lr의 Adam으로, 행을\n"
         "    torch.Generator().manual_seed(seed)로 뽑은 배치의 평균 음의 로그 가능도에 대해 학습합니다.\n"
         "    학습한 매개변수를 분리(detach)해서 반환합니다."),
    ],
}

# The English each MD entry translates (the base cells as they were): see the module docstring.
EN = {
    "14ff3e02": r"""
# Week 8 — Normalizing flows: an invertible map from data to noise, and the exact likelihood

Weeks 5–7 built three of the lecture notes' four families of generative models: a GAN (no likelihood at all), a VAE
(a lower bound on it) and a diffusion model (noise added and removed step by step). This week you build the fourth, a
**normalizing flow**: a network $f$ that is **invertible by construction**. Its *encoder* $z = f(x)$ maps a data point
to a latent point that should look like standard Gaussian noise, and its *decoder* is the **exact inverse**
$x = f^{-1}(z)$, not a second network trained to approximate it. Because $f$ is invertible and differentiable, the
change-of-variables formula gives the **exact** log-likelihood of every data point, so training is plain maximum
likelihood.

You will implement the RealNVP flow of Dinh et al. (2017) on 2-D data:

1. an **affine coupling layer**: **`coupling_forward`**, its exact inverse **`coupling_inverse`**, and the
   log-determinant of its Jacobian, **`log_det`**;
2. the stacked flow **`flow_forward`**, the likelihood **`flow_log_prob`** by the change-of-variables formula, and
   **`sample`**, which draws Gaussian noise and runs the flow backwards;
3. **`train_flow`**, maximum likelihood on two moons;
4. then you watch the density being learned step by step, draw samples, and look at where each data point lands in
   the latent space.

**How you are graded.** Hidden checks call the functions below with their exact signatures, on the CPU and (where
the grader has one) on a GPU, with other layers, widths, dimensions and seeds than the public checks. They compare
log-determinants with the determinant of the Jacobian computed by automatic differentiation, and they judge your
trained flow with the grader's **own** implementation of the flow: it computes the negative log-likelihood of
held-out points that your training never saw, and compares it with the best Gaussian. Keep every graded function at
the top level of the notebook and do not rename it. The small check cell after each exercise is public and carries
no points. Cells tagged `skip-grading` (plots, long training runs) are not run by the grader, so nothing you need
later may be defined only there. Before submitting, run *Kernel → Restart & Run All* and
`autograder check flow.ipynb`.

**Data.** Synthetic: "two moons" (two interleaved half circles with Gaussian noise, the toy of scikit-learn's
`make_moons`), drawn in this notebook. Nothing is downloaded.
""",
    "ab1772d6": r"""
## 0. The data: two moons

Each point picks one of two half circles with probability ½: the upper moon $(\cos\theta, \sin\theta)$ or the lower
moon $(1 - \cos\theta,\ \tfrac12 - \sin\theta)$, with $\theta \sim U[0, \pi]$, and adds Gaussian noise of standard
deviation $0.1$. The density is concentrated on two thin curved bands: no Gaussian, and no simple transformation of
one, fits it. `make_moons` returns float32 points and the moon of each point (1 = upper). The hidden checks train
your flow on moons that are rotated and shifted in a way only they know, and judge it on points it never saw.
""",
    "ce6033d9": r"""
## 1. Change of variables and the affine coupling layer

**Change of variables.** Let $f: \mathbb{R}^D \to \mathbb{R}^D$ be invertible and differentiable, and let
$z = f(x)$ have the density $p_Z$ (here the standard Gaussian). Then $x$ has the density

$$ \log p_X(x) = \log p_Z\big(f(x)\big) + \log\left|\det \frac{\partial f(x)}{\partial x}\right| . $$

*Worked example in one dimension:* $f(x) = 2x + 1$ and $z \sim \mathcal{N}(0, 1)$. Then
$x = (z - 1)/2 \sim \mathcal{N}(-\tfrac12, \tfrac14)$, and indeed
$\log p_X(x) = \log \mathcal{N}(2x + 1; 0, 1) + \log 2$: the map **stretches** space by 2, so it must
**concentrate** the density by 2 where it comes from. Forget the $\log|\det|$ term, and the "density" no longer
integrates to 1; flip its sign, and it integrates to something else again (you will see both below).

For a general network, $\det$ of a $D \times D$ Jacobian costs $O(D^3)$ and the inverse may not exist. A **coupling
layer** is built so that both are trivial. Split the coordinates with a binary **mask** $b \in \{0, 1\}^D$: the
coordinates with $b_j = 1$ are **kept** (copied unchanged); the others are scaled and shifted by amounts computed
from the kept ones only:

$$ y = b \odot x + (1 - b) \odot \big(x \odot e^{s(b \odot x)} + t(b \odot x)\big) . $$

* **Inverse.** The kept coordinates of $y$ equal those of $x$, so $s$ and $t$ can be recomputed from $y$:
  $x = b \odot y + (1 - b) \odot \big(y - t(b \odot y)\big) \odot e^{-s(b \odot y)}$. No network is inverted;
  $s$ and $t$ can be any functions at all.
* **Log-determinant.** Order the kept coordinates first: the Jacobian is triangular, with 1 on the diagonal for the
  kept ones and $e^{s_j}$ for the others. So $\log|\det \partial y / \partial x| = \sum_j (1 - b_j)\, s_j(b \odot x)$:
  a sum, no determinant. (The inverse's log-determinant is its negative.)

*Worked example:* $D = 2$, $b = (1, 0)$, $x = (0.5, 2)$, and suppose $s(b \odot x) = (\cdot, \ln 3)$ and
$t(b \odot x) = (\cdot, -1)$. Then $y = (0.5,\ 2 \cdot 3 - 1) = (0.5, 5)$, the log-determinant is $\ln 3$, and the
inverse gives back $x_2 = (5 - (-1)) / 3 = 2$. (The entries of $s$ and $t$ at kept positions are ignored.)

**The conditioner (given).** One small MLP per layer computes both $s$ and $t$: input the masked point $b \odot x$
($D$ numbers), two hidden layers of width $H$ with SiLU, output $2D$ numbers, the first $D$ the raw log-scale and the
last $D$ the shift. The log-scale passes through $\tanh$, so $|s_j| < 1$: an unbounded $s$ makes $e^{s}$ overflow
early in training. A layer's parameters are a dict in the layout of
`nn.Sequential(Linear(D, H), SiLU(), Linear(H, H), SiLU(), Linear(H, 2D))`: keys `"net.0.weight"` $(H, D)$,
`"net.0.bias"`, `"net.2.weight"` $(H, H)$, `"net.2.bias"`, `"net.4.weight"` $(2D, H)$, `"net.4.bias"`
(PyTorch's `state_dict` names; a layer is `h @ W.T + b`). A flow is a **list** of such dicts, layer 0 first (the one
applied first to the data).

**Masks alternate.** A layer leaves its kept coordinates untouched, so stacking layers that all keep the same
coordinates would never transform those. Layer $k$ uses `layer_mask(k, D)`: $b_j = 1$ when $j + k$ is even, so in
2-D layer 0 keeps $x_1$ and transforms $x_2$, layer 1 keeps $x_2$ and transforms $x_1$, and so on (the
"permutation" between layers).

**Conventions (part of the contract).** All functions work in the dtype and on the device of their inputs. `mask` is a
float tensor $(D,)$ of zeros and ones in the dtype and on the device of `x`. `log_det` returns one number per row,
shape $(B,)$.
""",
    "b20015b7": r"""
### Exercise 1a — `coupling_forward(layer, x, mask)`
Return $y = b \odot x + (1 - b) \odot (x \odot e^{s} + t)$ with `s, t = conditioner(layer, mask * x)`, shape
$(B, D)$. The kept coordinates must come out **exactly** equal to the input's.

### Exercise 1b — `coupling_inverse(layer, y, mask)`
The exact inverse: $x = b \odot y + (1 - b) \odot (y - t) \odot e^{-s}$, with `s, t = conditioner(layer, mask * y)`.
In float64, `coupling_inverse(layer, coupling_forward(layer, x, mask), mask)` must give back `x` to about $10^{-12}$.

### Exercise 1c — `log_det(layer, x, mask)`
$\log|\det \partial y / \partial x|$ of `coupling_forward` at each row of `x`: $\sum_j (1 - b_j)\, s_j$, shape $(B,)$.
""",
    "8f146eec": r"""
**What one layer does.** The picture below pushes a square grid through one coupling layer with random weights.
Vertical lines stay vertical ($x_1$ is kept); each vertical line is stretched and shifted along $x_2$ by amounts that
depend on where it is. Colour shows the log-determinant: where it is positive the layer stretches space, so it
*lowers* the density there.
""",
    "d2edca86": r"""
## 2. The flow: stacking layers, the likelihood, and sampling

A flow is $f = f_{L-1} \circ \dots \circ f_1 \circ f_0$, layer $k$ with mask `layer_mask(k, D)`. Log-determinants of a
composition **add** (the chain rule multiplies Jacobians, and determinants multiply):

$$ \log p(x) = \log \mathcal{N}\big(f(x); 0, I\big) + \sum_{k} \log\left|\det J_{f_k}(x_k)\right|, \qquad
   \log \mathcal{N}(z; 0, I) = -\tfrac12 \|z\|^2 - \tfrac{D}{2}\log 2\pi , $$

where $x_0 = x$ and $x_{k+1} = f_k(x_k)$: each layer's log-determinant is evaluated at **that layer's input**.

### Exercise 2a — `flow_forward(params, x)`
Run the layers in order (layer 0 first) with their masks `layer_mask(k, D)` (moved to the dtype and device of `x`), and
return `(z, total_log_det)`: the latent points $(B, D)$ and the summed log-determinants $(B,)$.

### Exercise 2b — `flow_log_prob(params, x)`
$\log p(x)$ of every row, shape $(B,)$, in nats, by the formula above.
""",
    "a864bf1f": r"""
### Exercise 2c — `sample(params, n, generator)`
Draw $z \sim \mathcal{N}(0, I)$ and run the flow **backwards**: `coupling_inverse` of layer $L-1$ first, with the
same masks, down to layer 0. **The random stream is part of the contract**, so that every correct solution draws the
same samples from the same seed: one draw `z = torch.randn(n, D, generator=generator, dtype=torch.float64)` on the
CPU, then moved to the device and dtype of the parameters (`params[0]["net.0.weight"]`; $D$ is its number of
columns), where all the arithmetic happens. Return the $(n, D)$ samples there. Sampling needs no gradients: use
`torch.no_grad()`.
""",
    "5c84a2b8": r"""
## 3. Training by maximum likelihood

### Exercise 3 — `train_flow(data, steps, batch_size, lr, seed, num_layers=8, hidden=64)`
* `generator = torch.Generator().manual_seed(seed)`; `params = init_flow(generator, num_layers, D, hidden)` with
  `D = data.shape[1]`, every tensor moved to `DEVICE` with `requires_grad_(True)`;
* plain Adam on `flow_tensors(params)` with learning rate `lr`;
* every step draws the batch rows `torch.randint(0, len(data), (batch_size,), generator=generator)` (on the CPU) and
  minimises the negative log-likelihood, `-flow_log_prob(params, batch).mean()`, on the float32 batch moved to
  `DEVICE`;
* return the trained parameters, detached (any device), in `init_flow`'s layout.

The public check runs a few steps. The real run below (tagged `skip-grading`) takes a few seconds. The grader trains
your `train_flow` on its own moons with 600 steps of batch 256 at `lr = 3e-3` and computes, with **its own**
implementation of the flow, the negative log-likelihood of 2,000 held-out points; it must be well below that of the
best Gaussian fitted to the same training data.
""",
    "2452057c": r"""
### The density, learned step by step
The cell below trains in stages (the same procedure as your `train_flow`, with the optimizer kept between stages) and
shows $p(x)$ on a grid after 0, 25, 100, 300 and 600 steps. At step 0 every layer is the identity, so the density is
the standard Gaussian; mass then moves onto the two moons. The numbers are the held-out negative log-likelihood, to
compare with the best Gaussian's.
""",
    "6f97dc11": r"""
### Samples
Decoding is the exact inverse of encoding: draw Gaussian noise and run `sample`. A flow trained for only a handful of
steps is still nearly a Gaussian.
""",
    "5a3ab1a1": r"""
### The latent space: where each data point goes
The encoder $z = f(x)$ maps every data point to the latent space. If the flow fits, the encoded training points look
like draws from $\mathcal{N}(0, I)$. Colour the points by their moon: each moon becomes one region of the Gaussian,
and the gap between the moons is squeezed into a thin band of low density. A grid drawn in data space shows how the
flow bends space to do it.
""",
    "c0cd9b90": r"""
Questions to think about (not graded): why would a flow whose layers all use the same mask never fit the moons, however
long it trains? What does bounding $s$ with $\tanh$ cost, and what could you add to get the expressiveness back? A
flow must keep the dimension of its input: how does that differ from the VAE's latent space of week 6? Why can the
flow report an exact likelihood, when the VAE only had a bound and the GAN nothing?

## Summary

* A **normalizing flow** is an invertible network: the encoder $z = f(x)$ and the decoder $x = f^{-1}(z)$ are the same
  map run in both directions, and the **change-of-variables formula** gives the exact log-likelihood.
* An **affine coupling layer** keeps some coordinates and scales and shifts the others by functions of the kept ones:
  its inverse needs no inversion of a network, and its log-determinant is a **sum** of log-scales.
* Masks must **alternate** between layers, and each layer's log-determinant is taken at its own input; the totals add.
* Training is maximum likelihood; the grader judges your trained flow by **its own** likelihood on held-out points.

**Before submitting:** *Kernel → Restart & Run All*, then `autograder check flow.ipynb`.
Do not rename the graded functions or change their signatures.
""",
}

