# ruff: noqa: E501  (the strings are notebook text: their lines break where the notebook's do, and Hangul is wide)
"""Korean twins (tag lang:ko) of source/week07-diffusion/diffusion.ipynb, for tools/ko_twins.py:

    .venv/bin/python tools/ko_twins.py apply source/week07-diffusion/diffusion.ipynb tools/ko/week07-diffusion.py
    .venv/bin/python tools/ko_twins.py check source/week07-diffusion/diffusion.ipynb

MD: base cell id -> Korean markdown. CODE: base cell id -> (English fragment, Korean fragment) pairs, each replaced
once in the base cell's source (ko_twins stops if a fragment does not occur exactly once). Terms: docs/glossary.md,
section "Diffusion models (week 7)". EN (at the end) holds the English of every markdown cell as it was when
translated: `ko_twins.py apply` refuses, naming the cell and its first changed line, when a base markdown cell has
changed since, so a stale Korean twin is never written silently. After revising the Korean, copy the new English
into EN.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "source" / "week07-diffusion" / "diffusion.ipynb"


def _target() -> Path:
    """The notebook being applied (`ko_twins.py apply NOTEBOOK THIS_FILE`), else this week's source notebook."""
    given = [Path(a) for a in sys.argv[1:] if a.endswith(".ipynb")]
    return given[0] if len(given) == 1 else NOTEBOOK


def _variant(cell_id: str, *pairs: tuple[str, str]) -> tuple[str, str]:
    """The (English, Korean) pair whose English is in the cell now, for English known in two wordings; with
    neither there, the first pair, so that ko_twins stops on it."""
    cells = json.loads(_target().read_text(encoding="utf-8"))["cells"]
    source = next(("".join(c["source"]) for c in cells if c.get("id") == cell_id), "")
    return next((pair for pair in pairs if pair[0] in source), pairs[0])


MD = {
    "cell-00": r"""
# 7주차 — 확산 모델: 노이즈를 한 단계씩 더하고, 그것을 없애는 법 배우기

5주차와 6주차에는 GAN과 VAE를 학습시켰습니다. 이번 주에는 강의 노트에 나오는 세 번째 모델 계열인 확산 모델(diffusion
model), 그중에서도 **노이즈 제거 확산 확률 모델**(denoising diffusion probabilistic model, DDPM; Ho et al. 2020)을
수식에서부터 만듭니다. 데이터를 $T$개의 작은 가우시안 단계에 걸쳐 노이즈로 바꾸는 고정된 *순방향 과정*(forward
process)과, 노이즈를 한 단계씩 다시 데이터로 바꾸는 학습된 *역방향 과정*(reverse process)입니다. 모든 것은
매개변수(parameter)를 명시적으로 전달받는, 텐서 위의 일반 함수입니다. 눈으로 볼 수 있는 2차원 데이터를 쓰므로 모델 하나가
CPU에서 몇 초 만에 학습됩니다.

구현할 내용은 다음과 같습니다.

1. **`make_schedule`**(노이즈 스케줄(noise schedule) $\beta_t$, $\alpha_t$, $\bar\alpha_t$. 선형 스케줄(linear schedule),
   그리고 연습 문제로 코사인 스케줄(cosine schedule))과 $x_0$에서 $x_t$로 한 번에 건너뛰는 **`q_sample`**
2. 역방향 과정이 흉내 내는 가우시안 $q(x_{t-1} \mid x_t, x_0)$를 계산하는 **`posterior_mean_var`**
3. 단순화된 DDPM 목적 함수(simplified DDPM objective) **`eps_loss`**, 그리고 노이즈에서 데이터로 가는 조상 샘플링(ancestral sampling)
   **`p_sample_loop`**
4. 가우시안 8개 고리에서 노이즈 예측 신경망(noise-prediction network)을 학습시키는 **`train_ddpm`**
5. **`guided_eps`**: **조건화**(conditioning; 강의 노트의 조건성, conditionality). 분류기 없는 가이던스(classifier-free
   guidance)로 *어느* 모드에서 뽑을지 고릅니다.

**채점 방식.** 비공개 검사(hidden checks)는 아래 함수들을 정확히 그 시그니처로, 공개 검사와 다른 스케줄, 가중치, 시드,
데이터를 써서 CPU에서, 그리고 (채점기에 있다면) GPU에서 호출합니다. 여러분이 학습시킨 신경망은 채점기 *자신의* 역방향
과정으로 평가합니다. 채점기는 여러분이 반환한 매개변수로 샘플을 뽑고, 샘플이 모드 위에 얼마나 많이, 그리고 얼마나
고르게 떨어지는지를 측정합니다. 채점되는 함수는 모두 노트북의 최상위에 두고 이름을 바꾸지 마십시오. 각 연습 문제 뒤의
작은 검사 셀은 공개 검사이며 점수가 없습니다. `skip-grading` 태그가 붙은 셀(그래프, 긴 학습 실행)은 채점기가 실행하지
않으므로, 나중에 필요한 것을 그 셀에서만 정의해서는 안 됩니다. 제출하기 전에 *Kernel → Restart & Run All*과
`autograder check diffusion.ipynb`를 실행하십시오.

**데이터.** 합성 데이터입니다. 이 노트북에서 원 위의 중심 8개 주위에 점을 뽑습니다(생성 모델링 문헌의 장난감 예제인
"가우시안 8개"). 아무것도 내려받지 않습니다.
""",
    "cell-02": r"""
## 0. 데이터: 가우시안 8개 고리

각 점은 반지름 $r = 2$인 원 위의 중심 $K = 8$개 $c_k = r(\cos\theta_k, \sin\theta_k)$, $\theta_k = \phi + 2\pi k / K$
가운데 하나를 고르고, 표준 편차가 $\sigma = 0.1$인 가우시안 노이즈를 더합니다. 레이블(label) $k$는 어느 중심인지를
나타냅니다. 이 분포에는 서로 떨어진 **모드**(mode)가 8개 있습니다. 그 가운데 일부에서만 뽑는 모델(*모드 붕괴*(mode
collapse), 5주차 GAN의 문제)이나 모드 사이에 확률 질량을 흩뜨리는 모델은 눈으로 쉽게 알아볼 수 있고, 측정하기도
쉽습니다.

`make_ring`은 float32 점과 int64 레이블을, `ring_centres`는 중심들을 반환합니다. 비공개 검사는 다른 각도 $\phi$로 이
함수들을 호출하므로, 거기서 학습시키는 신경망은 채점기의 데이터를 한 번도 본 적이 없습니다.
""",
    "cell-05": r"""
## 1. 순방향 과정: 데이터에서 노이즈로

순방향 과정은 **고정되어** 있습니다(학습하는 것이 없습니다). 데이터 점 $x_0$에서 시작해 매 단계 $t = 1, \dots, T$마다
가우시안 노이즈를 조금씩 더합니다.

$$ q(x_t \mid x_{t-1}) = \mathcal{N}\!\left(\sqrt{1-\beta_t}\, x_{t-1},\ \beta_t I\right), \qquad
   x_t = \sqrt{1-\beta_t}\, x_{t-1} + \sqrt{\beta_t}\, z_t,\quad z_t \sim \mathcal{N}(0, I). $$

$\beta_t \in (0, 1)$의 값들이 **노이즈 스케줄**입니다. 인수 $\sqrt{1-\beta_t}$는 노이즈를 더하는 동안 신호를 줄여서 분산이
한없이 커지지 않게 합니다. 그래서 단계를 많이 거치면 $x_0$가 무엇이었든 $x_T$는 (거의 정확히) $\mathcal{N}(0, I)$가
됩니다. $\alpha_t = 1 - \beta_t$, $\bar\alpha_t = \prod_{s=1}^{t} \alpha_s$로 쓰겠습니다. 가우시안들의 합은 가우시안이므로
$t$개의 단계는 **하나**로 합쳐집니다.

$$ q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\, x_0,\ (1-\bar\alpha_t) I\right), \qquad
   x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\, \varepsilon,\quad \varepsilon \sim \mathcal{N}(0, I). $$

*두 단계로 본 이유:* $x_2 = \sqrt{\alpha_2}(\sqrt{\alpha_1} x_0 + \sqrt{1-\alpha_1} z_1) + \sqrt{1-\alpha_2} z_2$.
노이즈 부분의 분산은 $\alpha_2(1-\alpha_1) + (1-\alpha_2) = 1 - \alpha_1\alpha_2$이므로
$x_2 = \sqrt{\alpha_1\alpha_2}\, x_0 + \sqrt{1-\alpha_1\alpha_2}\,\varepsilon$입니다. 나머지는 귀납법으로 보입니다.
**곱**이라는 점에 주의하십시오. $\bar\alpha_t$는 무엇의 합도 아닙니다.

**인덱스 규약(index convention): PyTorch 코드와 `diffusers` 라이브러리의 규약.** 파이썬 인덱스 `i = 0, ..., T-1`은 논문의 단계
$t = i + 1$을 나타냅니다. `betas[i]` $= \beta_{i+1}$이고 `alphas_cumprod[i]` $= \bar\alpha_{i+1}$이므로
`alphas_cumprod[0]` $= 1 - \beta_1$이며, 1이 아닙니다. 신경망에는 `i`를 알려 주고, 학습할 때는 `0..T-1`에서 `i`를
균등하게 뽑습니다. "첫 단계 이전"($\bar\alpha_0 = 1$, 깨끗한 데이터)에는 자기 인덱스가 없습니다. 2절에서 이것이
필요합니다.

**선형 스케줄**(Ho et al.): $\beta$를 `beta_1`부터 `beta_T`까지 같은 간격으로 놓습니다. DDPM은
$T = 1000$과 $10^{-4}$부터 $0.02$까지의 $\beta$를 썼습니다. 우리는 $T = 100$단계와 $10^{-3}$부터 $0.2$까지의 $\beta$를
씁니다. 같은 스케줄을 10배로 압축한 것이므로($T\beta$가 같습니다) 샘플링 비용이 10분의 1입니다.

**코사인 스케줄**(Nichol & Dhariwal 2021)은 $\bar\alpha$를 직접 정의합니다.
$\bar\alpha_t = f(t)/f(0)$, $f(t) = \cos^2\!\big(\tfrac{t/T + s}{1+s}\cdot\tfrac{\pi}{2}\big)$, $s = 0.008$이고,
$t = 1..T$에 대해 $\beta_t = 1 - f(t)/f(t-1)$을 유도한 다음 **최대 0.999로 자릅니다**(자르지 않으면 마지막 $\beta$는
정확히 1입니다). 선형 스케줄보다 처음에 정보를 더 천천히 없앱니다.

### 연습 문제 1a — `make_schedule(T, beta_1, beta_T, kind="linear")`
형태가 $(T,)$인 float64 CPU 텐서 세 개를 담은 딕셔너리를 반환하십시오. `"betas"`, `"alphas"` $= 1-\beta$,
`"alphas_cumprod"` $= \bar\alpha$입니다. `kind="cosine"`이면 `beta_1`과 `beta_T`를 무시하고, 그 밖의 `kind`이면
`ValueError`를 발생시키십시오.
""",
    "cell-08": r"""
### 연습 문제 1b — `q_sample(x0, t, eps, schedule)`
$x_0$에서 $x_t$로 건너뜁니다. `x0`, `eps`는 $(B, D)$ 텐서(float dtype이면 무엇이든, 장치(device)도 무엇이든)이고,
`t`는 인덱스를 담은 int64 텐서 $(B,)$입니다(행마다 자기 단계가 있습니다).
$\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$을 `x0`의 dtype과 장치로 반환하십시오. 스케줄은 CPU 위의
float64입니다. 각 행의 $\bar\alpha$를 `schedule["alphas_cumprod"][t.cpu()]`로 골라낸 다음
옮기고(`.to(x0.device, x0.dtype)`) $(B, 1)$ 형태로 만들어 좌표들에 대해 브로드캐스트되게 하십시오. 노이즈는 함수 안에서
뽑지 않고 언제나 인자로 전달받습니다. 그래서 `q_sample`은 정확하게 검사할 수 있는 순수 함수가 됩니다.
""",
    "cell-11": r"""
**한 단계씩 진행하는 과정과 비교해 검사하기.** 한 번에 건너뛰는 공식은
$x_t = \sqrt{1-\beta_t}x_{t-1} + \sqrt{\beta_t} z_t$를 $t$번 되풀이한 것과 같은 *분포*를 주어야 합니다. 아래 셀은 한
시작점에 대해 두 방법으로 20,000번씩 뽑은 값의 평균과 분산을 비교합니다(비공개 검사도 자기 샘플로 똑같이 합니다).
그다음 고리 전체에 순방향 과정을 적용해 보여 줍니다. 모드들이 흐려지고, 합쳐지고, 결국 표준 가우시안(standard Gaussian)이 됩니다.
""",
    "cell-13": r"""
## 2. 우리가 밟고 싶은 역방향 단계: 사후 분포(posterior) $q(x_{t-1} \mid x_t, x_0)$

생성하려면 연쇄를 거꾸로 돌려야 합니다. $x_t$에서 $x_{t-1}$을 뽑는 것입니다. 참 역방향 분포 $q(x_{t-1}\mid x_t)$는
데이터 분포 전체에 달려 있어 알 수 없지만, **$x_0$가 주어지면** 베이즈 규칙(Bayes' rule)으로 적어 낼 수 있는
가우시안이 됩니다.

$$ q(x_{t-1} \mid x_t, x_0) \propto \underbrace{q(x_t \mid x_{t-1})}_{\mathcal{N}(x_t;\ \sqrt{\alpha_t}x_{t-1},\ \beta_t I)}
   \ \underbrace{q(x_{t-1} \mid x_0)}_{\mathcal{N}(x_{t-1};\ \sqrt{\bar\alpha_{t-1}}x_0,\ (1-\bar\alpha_{t-1}) I)}
   = \mathcal{N}\!\left(x_{t-1};\ \tilde\mu_t,\ \tilde\beta_t I\right), $$

$$ \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\, x_0
               + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\, x_t, \qquad
   \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t . $$

(두 가우시안 밀도를 $x_{t-1}$에 대해 곱하십시오. 정밀도(precision, 분산의 역수)는 더해지므로 $1/\tilde\beta_t = \alpha_t/\beta_t +
1/(1-\bar\alpha_{t-1})$이고, 평균은 정밀도로 가중한 평균입니다. 직접 해 보십시오. 두 줄이면 됩니다.)

사후 분포는 우리가 아는 두 값 $x_0$와 $x_t$를 섞으며, 그 분산 $\tilde\beta_t$는 순방향 단계의 $\beta_t$보다 조금
*작습니다*. **인덱스에 주의하십시오.** $\bar\alpha_{t-1}$은 *이전* 단계의 누적 곱(cumulative product)이며, 맨 처음 단계($t = 1$, 인덱스
`i = 0`)에서는 $\bar\alpha_0 = 1$입니다. 그곳에서 $\tilde\beta_1 = 0$이고 $\tilde\mu_1 = x_0$입니다. 역방향 과정의
마지막 단계는 노이즈 없이 깨끗한 점을 돌려줍니다.

### 연습 문제 2 — `posterior_mean_var(x0, xt, t, schedule)`
`x0`, `xt`는 $(B, D)$, `t`는 int64 $(B,)$ 인덱스입니다. `(mean, var)`를 반환하십시오. 평균은 $(B, D)$, 분산은
$(B,)$(행마다 수 하나. 공분산이 $\tilde\beta_t I$이기 때문입니다)이며, 둘 다 `x0`의 dtype과 장치에 있어야 합니다. 모든
인덱스의 $\bar\alpha_{t-1}$은 `t - 1`로 인덱싱하지 말고 `torch.cat([ones(1), alphas_cumprod[:-1]])`로 만드십시오(왜
그럴까요? `alphas_cumprod[-1]`은 무엇입니까?).
""",
    "cell-16": r"""
## 3. 노이즈 제거 학습하기: 신경망, 손실, 샘플링

샘플링할 때는 $\tilde\mu_t$를 쓸 수 없습니다. $\tilde\mu_t$에는 우리가 생성하려는 바로 그것, $x_0$가 필요하기
때문입니다. DDPM은 신경망 $\varepsilon_\theta(x_t, t)$가 $x_t$를 얻으려고 더한 **노이즈를 예측**하도록 학습시킵니다.
예측값으로부터 $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$를 얻고(`q_sample`을 거꾸로
풉니다), $\hat x_0$를 $\tilde\mu_t$에 넣으면 식이 다음과 같이 간단해집니다.

$$ \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}}\left(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,
   \varepsilon_\theta(x_t, t)\right). $$

**신경망(주어짐).** `nn.Sequential(Linear, SiLU, Linear, SiLU, Linear, SiLU, Linear)`의 배치를 따르는 작은 MLP입니다.
키가 `"net.0.weight"`, `"net.0.bias"`, `"net.2.*"`, `"net.4.*"`, `"net.6.*"`인 딕셔너리 `params`입니다(PyTorch의
`state_dict` 이름이며, 가중치는 $(\text{out}, \text{in})$이므로 층 하나는 `h @ W.T + b`입니다). 입력은 점 $x_t$(수 2개),
**단계 인덱스** $i$의 32차원 **사인파 임베딩**(sinusoidal embedding; 4주차의 위치 인코딩(positional encoding)이 다른
역할을 맡은 것으로, 노이즈가 얼마나 있을지를 신경망에 알려 줍니다), 그리고 조건부(conditional) 모델(5절)이면 원-핫 레이블입니다.
은닉 폭은 128이고 출력은 2, 즉 예측한 노이즈입니다.

### 학습 목적 함수
DDPM의 변분 하한(variational bound)은 Ho et al.이 버린 가중치를 빼면 평범한 회귀로 줄어듭니다.

$$ L(\theta) = \mathbb{E}_{x_0,\ i,\ \varepsilon}\ \big\| \varepsilon - \varepsilon_\theta\big(\sqrt{\bar\alpha_i}\,x_0 +
   \sqrt{1-\bar\alpha_i}\,\varepsilon,\ i\big)\big\|^2 . $$

**축약 방식(reduction)도 규약(contract)의 일부입니다.** 제곱 노름은 $D$개의 좌표에 대해 합하고, 결과는 배치에 대한 평균입니다.
`F.mse_loss`는 $D$로도 나누므로 다른 수가 나옵니다.
""",
    "cell-18": r"""
### 연습 문제 3a — `eps_loss(params, x0, t, eps, schedule, y=None)`
여러분의 `q_sample`로 `x0`에 노이즈를 더해 $x_t$를 만들고(같은 `t`, 같은 `eps`), `eps_net(params, x_t, t, y)`로 노이즈를
예측한 다음, 스칼라 값 $\frac{1}{B}\sum_b \|\varepsilon_b - \hat\varepsilon_b\|^2$을 반환하십시오(autograd가 미분할 수
있는 0차원 텐서).
""",
    "cell-21": r"""
### 연습 문제 3b — `p_sample_loop(params, n, generator, schedule, y=None, w=1.0)`: 조상 샘플링
순수한 노이즈에서 시작해 $T$개의 역방향 단계 $i = T-1, T-2, \dots, 0$을 밟습니다.

$$ x_{t-1} = \mu_\theta(x_t, t) + \sigma_t z, \qquad \sigma_t^2 = \tilde\beta_t, \qquad z \sim \mathcal{N}(0, I), $$

단, **마지막 단계에서는 노이즈를 더하지 않습니다**(`i = 0`, 어차피 $\tilde\beta_1 = 0$인 곳). 그곳에서는 $\mu_\theta$를
반환하십시오. (Ho et al.은 $\sigma_t^2 = \beta_t$도 거의 똑같이 잘 된다는 것을 발견했습니다. 여기서의 규약은
$\tilde\beta_t$입니다.)

**난수열(random stream)도 규약의 일부입니다.** 그래야 올바른 풀이는 모두 같은 시드에서 같은 샘플을 뽑습니다.
* 먼저 $x_T$ = `torch.randn(n, 2, generator=generator, dtype=torch.float64)`를 뽑습니다.
* 그다음 루프에서 `i > 0`인 단계마다 `z = torch.randn(n, 2, generator=generator, dtype=torch.float64)`를 하나씩
  뽑습니다. `i = 0`에서는 뽑지 않습니다.
* 둘 다 CPU에서 float64로 뽑은 다음, 매개변수(`params["net.0.weight"]`)의 장치와 dtype으로 옮깁니다. 모든 산술은
  그곳에서 하며, $(n, 2)$ 샘플도 그곳에서 반환합니다.

`y`가 None이면 노이즈 예측은 `t = torch.full((n,), i)`로 계산한 `eps_net(params, x, t)`입니다. 레이블 텐서
`y`(int64, $(n,)$)가 주어지면 대신 5절의 `guided_eps(params, x, t, y, w)`를 쓰십시오(그 분기는 5절까지 미뤄
두십시오). 샘플링에는 기울기(gradient)가 필요 없습니다. 루프를 `torch.no_grad()`로 감싸십시오.
""",
    "cell-24": r"""
## 4. 고리에서 학습하기

### 연습 문제 4 — `train_ddpm(data, schedule, steps, batch_size, lr, seed, labels=None, num_classes=0, p_uncond=0.2)`
* `generator = torch.Generator().manual_seed(seed)`와 `params = init_eps_net(generator, num_classes)`를 만들고,
  `params`를 `DEVICE`로 옮겨 `requires_grad_(True)`를 적용합니다.
* `net_tensors(params)`에 학습률(learning rate) `lr`로 평범한 Adam을 씁니다(학습률 스케줄은 쓰지 않습니다. 여기서는
  0으로 줄어드는 학습률보다 일정한 학습률이 더 잘 됐습니다).
* 매 단계 CPU 위의 `generator`에서 **이 순서대로** 뽑습니다. 배치의 행
  `torch.randint(0, len(data), (batch_size,))`, 인덱스 `t = torch.randint(0, T, (batch_size,))`, 노이즈
  `eps = torch.randn(batch_size, 2)`, 그리고 `num_classes > 0`일 때만 `drop = torch.rand(batch_size) < p_uncond`입니다.
* 무조건부(unconditional, `num_classes = 0`)이면 `y = None`입니다. 조건부(5절)이면 `y`는 그 행들의
  `labels`이고, `drop`이 참인 곳에서는 `num_classes`("레이블 없음")로 바꿉니다.
* (`DEVICE`로 옮긴) 배치에서 `eps_loss`를 최소화하고, 학습된 매개변수를 분리해서(detach) 반환합니다(장치는
  상관없습니다).

공개 검사는 몇 단계만 실행합니다. 아래의 실제 실행(`skip-grading` 태그)은 몇 초 걸립니다. 채점기는 여러분의
`train_ddpm`으로 자기 고리에서 배치 512, `lr = 3e-3`으로 2,000단계를 학습시킨 다음, **자기** 역방향 과정으로 그
매개변수에서 샘플을 뽑아, 어떤 중심에서 $3\sigma$ 안에 떨어지는 샘플이 얼마나 되는지, 모드 8개 가운데 몇 개가 공정한
몫을 받는지를 측정합니다.
""",
    "cell-28": r"""
### 역방향 궤적(reverse trajectory)
아래 셀은 역방향 과정을 한 단계씩 다시 실행하며(여러분의 `p_sample_loop`와 같은 식) 중간의 $x_t$를 모두 보관합니다.
노이즈는 먼저 고리 전체를 향해 모이고, $\bar\alpha$가 충분히 커져 신경망이 모드들을 구별할 수 있게 되는 마지막 4분의
1 단계에서야 모드 8개로 갈라집니다. 오른쪽 패널은 몇몇 점을 마지막 30단계 동안 따라갑니다(점: 도착한 곳, 가위표:
중심). 각 점은 노이즈가 클 때는 떠돌다가 모드 하나로 끌려갑니다.
""",
    "cell-30": r"""
## 5. 조건화: 분류기 없는 가이던스로 모드 고르기

강의 노트는 생성 모델(generative model)에 바라는 성질 가운데 하나로 **조건성**(conditionality)을 꼽습니다. 아무 점이나
뽑는 것이 아니라 *주어진 종류의* 점(숫자 하나, 스타일 하나, 여기서는 고리의 모드 하나)을 뽑는 것입니다. **조건부**
노이즈 예측기 $\varepsilon_\theta(x_t, t, y)$는 레이블을 추가 입력으로 받습니다. **분류기 없는 가이던스**(Ho & Salimans
2022)는 두 가지 일을 신경망 *하나*로 학습시킵니다. 확률 `p_uncond`로 레이블을 "레이블 없음"($\varnothing$, 원-핫의
인덱스 $K$)으로 바꾸어, 같은 신경망이 무조건부 $\varepsilon_\theta(x_t, t, \varnothing)$도 배우게 합니다. 샘플링할 때
두 예측을 섞습니다.

$$ \hat\varepsilon = \varepsilon_\theta(x_t, t, \varnothing) + w\,\big(\varepsilon_\theta(x_t, t, y) -
   \varepsilon_\theta(x_t, t, \varnothing)\big). $$

$w = 0$은 무조건부 모델, $w = 1$은 조건부 모델이며, $w > 1$은 "이 레이블"과 "아무 레이블"을 가르는 방향으로 *더*
나아가 다양성(diversity)을 내주고 충실도(fidelity)를 얻습니다(Stable Diffusion의 기본값은 7.5입니다). 이것은 `diffusers`와
GLIDE/Imagen의 규약입니다. Ho & Salimans는 $(1+w')\varepsilon_c - w'\varepsilon_u$로 쓰며, $w = 1 + w'$로 놓으면
같은 식입니다.

### 연습 문제 5 — `guided_eps(params, x, t, y, w)`
조건부 신경망에 대해 위의 $\hat\varepsilon$을 $(B, 2)$로 반환하십시오. `eps_net(params, x, t, None)`이 무조건부 가지,
`eps_net(params, x, t, y)`가 조건부 가지입니다. 그러면 `p_sample_loop(..., y=labels, w=w)`가 가이던스를 써서
샘플링합니다(연습 문제 3b에서 만든 분기).
""",
    "cell-33": r"""
이제 레이블이 붙은 고리에서 조건부 모델을 학습시키고(`num_classes=8`, 레이블의 20%는 버립니다. 몇 초 걸립니다) 여러
가이던스 강도(guidance strength)에서 각 모드를 차례로 요청해 봅니다. 각 제목의 비율은 **요청한** 중심에서 $3\sigma$ 안에 떨어진 샘플의
비율입니다. 우연히 맞히는 비율은 어느 모드에든 떨어진 샘플의 1/8입니다. 양 끝을 살펴보십시오. $w = 0$에서는 무조건부
가지만 작용하는데, 이 가지는 배치의 5분의 1로만 학습했으므로 고리가 흐릿합니다. $w$가 크면 샘플이 자기 모드를
*지나쳐* 바깥쪽으로 줄무늬처럼 뻗어 나갑니다. 가이던스가 지나치면 데이터 분포를 벗어납니다.
""",
    "cell-35": r"""
생각해 볼 질문(채점하지 않음): $w = 0$에서도 고리가 나오는 이유는 무엇이고, 거기서 어떤 색 패턴을 예상합니까? $w$가
커지면 각 모드의 퍼짐은 어떻게 되고, 그 이유는 무엇입니까(힌트: 가이던스는 $p(y \mid x_t)^{w}$를 뾰족하게
만듭니다)? *음수* $w$는 무엇을 하겠습니까? 학습할 때 일부 레이블을 버려야 하는 이유는 무엇입니까? `p_uncond = 0`이면
$\varepsilon_\theta(x_t, t, \varnothing)$ 값은 무엇이 되겠습니까?

## 요약

* **순방향 과정**은 $T$단계에 걸쳐 가우시안 노이즈를 더합니다. 가우시안은 합성해도 가우시안이므로
  $q(x_t\mid x_0)$에는 닫힌 형태 $\mathcal{N}(\sqrt{\bar\alpha_t}x_0, (1-\bar\alpha_t)I)$가 있으며, $\bar\alpha_t$는
  **곱**입니다.
* $x_0$가 주어지면 역방향 단계는 가우시안 사후 분포 $q(x_{t-1}\mid x_t, x_0)$입니다(베이즈 규칙). 그 분산은 **이전**
  단계의 $\bar\alpha_{t-1}$을 쓰며, 이 값은 첫 단계 이전에 1이므로 역방향 과정의 마지막 단계는 노이즈를 더하지
  않습니다.
* 신경망은 **노이즈**를 예측합니다. 학습은 회귀(단순화된 DDPM 손실)이고, 샘플링은 $\mathcal{N}(0, I)$에서 시작하는
  $T$번의 조상 샘플링 단계입니다. 채점기는 여러분이 학습시킨 신경망을 **자기** 샘플러로 평가합니다.
* **분류기 없는 가이던스**는 신경망 하나를 레이블로 조건화하며, $w$로 다양성과 충실도를 맞바꿉니다.

**제출하기 전에:** *Kernel → Restart & Run All*을 실행한 다음 `autograder check diffusion.ipynb`를 실행하십시오.
채점되는 함수의 이름을 바꾸거나 시그니처를 고치지 마십시오.
""",
}

CODE = {
    "cell-01": [
        ("# The network is tiny: one CPU thread is as fast as several and is not slowed down when the machine is busy.",
         "# 신경망이 아주 작아서 CPU 스레드 하나가 여러 개만큼 빠르고, 기계가 바쁠 때도 느려지지 않습니다."),
        ("# Training uses a GPU when there is one; everything also runs on the CPU.",
         "# 학습은 GPU가 있으면 GPU에서 합니다. 모든 것은 CPU에서도 실행됩니다."),
    ],
    "cell-03": [
        ("""n points of the ring of Gaussians, float32 (n, 2), and their labels, int64 (n,): label k ~ uniform,
    x = centre_k + sigma * noise, centre_k = radius * (cos, sin)(angle + 2 pi k / num_modes).""",
         """가우시안 고리의 점 n개 float32 (n, 2)와 그 레이블 int64 (n,): 레이블 k ~ 균등 분포,
    x = centre_k + sigma * noise, centre_k = radius * (cos, sin)(angle + 2 pi k / num_modes)."""),
        ("The centres (num_modes, 2), float64, in label order.",
         "중심들 (num_modes, 2), float64, 레이블 순서."),
        ("(fraction of samples within 3 sigma of their nearest centre, share of all samples at each centre).",
         "(가장 가까운 중심에서 3 sigma 안에 든 샘플의 비율, 각 중심에 떨어진 샘플이 전체 샘플에서 차지하는 몫)."),
    ],
    "cell-06": [
        ("""The noise schedule: {"betas", "alphas", "alphas_cumprod"}, float64 CPU tensors (T,); index i is step t = i+1.
    linear: betas = linspace(beta_1, beta_T, T); cosine: Nichol & Dhariwal (s = 0.008, betas clipped at 0.999).
    Any other kind raises ValueError.""",
         """노이즈 스케줄: {"betas", "alphas", "alphas_cumprod"}, float64 CPU 텐서 (T,). 인덱스 i는 단계 t = i+1입니다.
    linear: betas = linspace(beta_1, beta_T, T). cosine: Nichol & Dhariwal (s = 0.008, betas를 0.999에서 자릅니다).
    그 밖의 kind는 ValueError를 일으킵니다."""),
    ],
    "cell-07": [
        ("# worked example: abar", "# 풀이 예: abar"),
    ],
    "cell-09": [
        ("x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps for every row; x0, eps (B, D); t int64 (B,) indices 0..T-1.",
         "모든 행에 대해 x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps. x0, eps는 (B, D), t는 int64 (B,) 인덱스 0..T-1."),
    ],
    "cell-10": [
        ("# row 0: t index 0, abar = 0.9; row 1: t index 3, abar = 0.3024",
         "# 행 0: t 인덱스 0, abar = 0.9. 행 1: t 인덱스 3, abar = 0.3024"),
    ],
    "cell-12": [
        ("Same square window for every scatter plot of the ring.",
         "고리의 모든 산점도에 같은 정사각형 창을 씁니다."),
    ],
    "cell-14": [
        ("Mean (B, D) and variance (B,) of q(x_{t-1} | x_t, x_0) for every row; abar_{t-1} = 1 at index 0.",
         "모든 행에 대한 q(x_{t-1} | x_t, x_0)의 평균 (B, D)와 분산 (B,). 인덱스 0에서 abar_{t-1} = 1."),
    ],
    "cell-15": [
        ("# index 0 (t = 1): abar_prev = 1, so the posterior is exactly x0 with variance 0",
         "# 인덱스 0 (t = 1): abar_prev = 1이므로 사후 분포는 분산이 0인 x0 그 자체"),
        ("# index 1 (t = 2): beta 0.2", "# 인덱스 1 (t = 2): beta 0.2"),
    ],
    "cell-17": [
        ("""Sinusoidal embedding (B, dim), float64, of int64 step indices t (B,): [sin(t f_j), cos(t f_j)],
    f_j = 10000^(-j / (dim/2)) for j = 0 .. dim/2 - 1 (week 4's encodings).""",
         """int64 단계 인덱스 t (B,)의 사인파 임베딩 (B, dim), float64: [sin(t f_j), cos(t f_j)],
    j = 0 .. dim/2 - 1에 대해 f_j = 10000^(-j / (dim/2)) (4주차의 인코딩)."""),
        ("""Parameters (float32, CPU) of the noise-prediction MLP, drawn as nn.Linear draws them (uniform, 1/sqrt(fan_in)).
    Input: x (2) + time embedding (EMB_DIM) + one-hot label (num_classes + 1, the last one = "no label") when
    num_classes > 0. Keys: net.0, net.2, net.4, net.6 (.weight (out, in), .bias (out,)).""",
         """노이즈 예측 MLP의 매개변수(float32, CPU). nn.Linear와 같은 방식으로 뽑습니다(균등 분포, 1/sqrt(fan_in)).
    입력: x (2) + 시간 임베딩 (EMB_DIM) + num_classes > 0이면 원-핫 레이블 (num_classes + 1개, 마지막 것 =
    "레이블 없음"). 키: net.0, net.2, net.4, net.6 (.weight (out, in), .bias (out,))."""),
        ("The number of classes a network was built for (0: unconditional), read from its first layer's width.",
         "신경망이 만들어질 때의 클래스 수(0: 무조건부). 첫 층의 입력 폭에서 읽습니다."),
        ("""Predicted noise (B, 2) for points x (B, 2) at step indices t (int64, B) in x's dtype and device. For a
    conditional network y (int64, B) holds labels 0..K-1, or K = "no label"; y=None means "no label" for every row.
    An unconditional network takes y=None only.""",
         """단계 인덱스 t (int64, B)에서 점 x (B, 2)에 대해 예측한 노이즈 (B, 2), x의 dtype과 장치. 조건부 신경망이면
    y (int64, B)는 레이블 0..K-1 또는 K = "레이블 없음"을 담고, y=None은 모든 행이 "레이블 없음"이라는 뜻입니다.
    무조건부 신경망은 y=None만 받습니다."""),
        ("The network's tensors in a fixed order (for an optimizer).",
         "신경망의 텐서들을 고정된 순서로(옵티마이저에 넘기기 위해)."),
        ("A new parameter dict with fn applied to every tensor, e.g. map_params(p, torch.Tensor.double).",
         "모든 텐서에 fn을 적용한 새 매개변수 딕셔너리. 예: map_params(p, torch.Tensor.double)."),
    ],
    "cell-19": [
        ("The simplified DDPM loss: mean over the batch of ||eps - eps_net(params, q_sample(x0, t, eps), t, y)||^2.",
         "단순화된 DDPM 손실: ||eps - eps_net(params, q_sample(x0, t, eps), t, y)||^2의 배치 평균."),
    ],
    "cell-22": [
        ("""n samples (n, 2) by ancestral sampling over all T steps, in the device and dtype of params["net.0.weight"].
    Stream: x_T = randn(n, 2, float64) first, then one randn(n, 2, float64) per step with i > 0 (CPU, then moved).
    y None: eps_net(params, x, t); y int64 (n,): guided_eps(params, x, t, y, w).""",
         """T단계 전체에 걸친 조상 샘플링으로 얻은 샘플 n개 (n, 2), params["net.0.weight"]의 장치와 dtype.
    난수열: 먼저 x_T = randn(n, 2, float64), 그다음 i > 0인 단계마다 randn(n, 2, float64) 하나(CPU에서 뽑아 옮깁니다).
    y가 None이면 eps_net(params, x, t), y가 int64 (n,)이면 guided_eps(params, x, t, y, w)."""),
    ],
    "cell-23": [
        ("# a network that always predicts eps = 0", "# 언제나 eps = 0을 예측하는 신경망"),
        ("# by hand: with eps = 0 every step is x / sqrt(alpha_i) plus noise for i = 2, 1, and none at i = 0",
         "# 손으로 계산: eps = 0이면 모든 단계는 x / sqrt(alpha_i)이고, i = 2, 1에서는 노이즈를 더하며 i = 0에서는 더하지 않습니다"),
    ],
    "cell-25": [
        ("""Train eps_net's parameters (init_eps_net(generator, num_classes)) with Adam at the constant rate lr on
    eps_loss; per step draw rows, t, eps (and drop, if num_classes) from torch.Generator().manual_seed(seed).""",
         """eps_net의 매개변수(init_eps_net(generator, num_classes))를 일정한 학습률 lr의 Adam으로 eps_loss에 대해
    학습시킵니다. 단계마다 torch.Generator().manual_seed(seed)에서 행, t, eps(num_classes가 있으면 drop도)를 뽑습니다."""),
        _variant("cell-25",
                 ("Returns the trained parameters, detached.", "학습된 매개변수를 분리해서 반환합니다."),
                 # the wording on branch wip/w7-mutants (uncommitted when this was written)
                 ("""data: (N, 2) points of any float dtype, trained on as float32 (the network's dtype). Returns the trained
    parameters, detached.""",
                  """data: 임의의 float dtype인 (N, 2) 점들이며, 신경망의 dtype인 float32로 바꾸어 학습합니다. 학습된
    매개변수를 분리해서 반환합니다.""")),
    ],
    "cell-31": [
        ("Classifier-free guidance: eps_uncond + w * (eps_cond - eps_uncond), eps_uncond = eps_net(params, x, t, None).",
         "분류기 없는 가이던스: eps_uncond + w * (eps_cond - eps_uncond), eps_uncond = eps_net(params, x, t, None)."),
    ],
}


EN = {
    "cell-00": r"""
# Week 7 — Diffusion models: adding noise step by step, and learning to remove it

Weeks 5 and 6 trained a GAN and a VAE. This week you build the third family of the lecture notes, a **denoising
diffusion probabilistic model** (DDPM, Ho et al. 2020), from its formulas: a fixed *forward process* that turns
data into noise in $T$ small Gaussian steps, and a learned *reverse process* that turns noise back into data, one
step at a time. Everything is plain functions over tensors with explicitly passed parameters, on 2-D data you can
look at, so a model trains in seconds on a CPU.

You will implement:

1. **`make_schedule`** (the noise schedule $\beta_t$, $\alpha_t$, $\bar\alpha_t$; linear, and cosine as an exercise) and
   **`q_sample`**, which jumps from $x_0$ to $x_t$ in one go;
2. **`posterior_mean_var`**, the Gaussian $q(x_{t-1} \mid x_t, x_0)$ that the reverse process imitates;
3. **`eps_loss`**, the simplified DDPM objective, and **`p_sample_loop`**, ancestral sampling from noise to data;
4. **`train_ddpm`**, which trains the noise-prediction network on a ring of 8 Gaussians;
5. **`guided_eps`**: **conditioning** (the lecture notes' 조건성, conditionality): choose *which* mode to draw with
   classifier-free guidance.

**How you are graded.** Hidden checks call the functions below with their exact signatures, on the CPU and (where
the grader has one) on a GPU, with other schedules, weights, seeds and data than the public checks. Your trained
network is judged by the grader's *own* reverse process: it samples from the parameters you return and measures how
many samples land on the modes, and how evenly. Keep every graded function at the top level of the notebook and do
not rename it. The small check cell after each exercise is public and carries no points. Cells tagged
`skip-grading` (plots, long training runs) are not run by the grader, so nothing you need later may be defined only
there. Before submitting, run *Kernel → Restart & Run All* and `autograder check diffusion.ipynb`.

**Data.** Synthetic: points drawn in this notebook around 8 centres on a circle (the "8 Gaussians" toy of the
generative-modelling literature). Nothing is downloaded.
""",
    "cell-02": r"""
## 0. The data: a ring of 8 Gaussians

Each point picks one of $K = 8$ centres $c_k = r(\cos\theta_k, \sin\theta_k)$, $\theta_k = \phi + 2\pi k / K$, on a
circle of radius $r = 2$, and adds Gaussian noise of standard deviation $\sigma = 0.1$. The label $k$ says which
centre. The distribution has 8 separated **modes**: a model that draws only from some of them (*mode collapse*,
week 5's GAN problem) or that smears mass between them is easy to see, and to measure.

`make_ring` returns float32 points and int64 labels; `ring_centres` the centres. The hidden checks call them with
another angle $\phi$, so the network you train there has never seen the grader's data.
""",
    "cell-05": r"""
## 1. The forward process: from data to noise

The forward process is **fixed** (nothing is learned). Starting from a data point $x_0$ it adds a little Gaussian
noise at every step $t = 1, \dots, T$:

$$ q(x_t \mid x_{t-1}) = \mathcal{N}\!\left(\sqrt{1-\beta_t}\, x_{t-1},\ \beta_t I\right), \qquad
   x_t = \sqrt{1-\beta_t}\, x_{t-1} + \sqrt{\beta_t}\, z_t,\quad z_t \sim \mathcal{N}(0, I). $$

The $\beta_t \in (0, 1)$ are the **noise schedule**. The factor $\sqrt{1-\beta_t}$ shrinks the signal while noise is
added, so the variance stays bounded: after many steps $x_T$ is (almost exactly) $\mathcal{N}(0, I)$, whatever
$x_0$ was. Write $\alpha_t = 1 - \beta_t$ and $\bar\alpha_t = \prod_{s=1}^{t} \alpha_s$. Because a sum of Gaussians
is Gaussian, the $t$ steps collapse into **one**:

$$ q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\, x_0,\ (1-\bar\alpha_t) I\right), \qquad
   x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\, \varepsilon,\quad \varepsilon \sim \mathcal{N}(0, I). $$

*Why, for two steps:* $x_2 = \sqrt{\alpha_2}(\sqrt{\alpha_1} x_0 + \sqrt{1-\alpha_1} z_1) + \sqrt{1-\alpha_2} z_2$.
The noise part has variance $\alpha_2(1-\alpha_1) + (1-\alpha_2) = 1 - \alpha_1\alpha_2$, so
$x_2 = \sqrt{\alpha_1\alpha_2}\, x_0 + \sqrt{1-\alpha_1\alpha_2}\,\varepsilon$. Induction does the rest. Note the
**product**: $\bar\alpha_t$ is not a sum of anything.

**Index convention (as in PyTorch code and the `diffusers` library).** Python index `i = 0, ..., T-1` stands for the
paper's step $t = i + 1$: `betas[i]` $= \beta_{i+1}$ and `alphas_cumprod[i]` $= \bar\alpha_{i+1}$, so
`alphas_cumprod[0]` $= 1 - \beta_1$, not 1. The network is told `i`, and training draws `i` uniformly from
`0..T-1`. "Before the first step" ($\bar\alpha_0 = 1$, the clean data) has no index of its own; you will need it in
section 2.

**Linear schedule** (Ho et al.): $\beta$ evenly spaced from `beta_1` to `beta_T`. DDPM used $T = 1000$ and
$\beta$ from $10^{-4}$ to $0.02$. We use $T = 100$ steps with $\beta$ from $10^{-3}$ to $0.2$: the same schedule
compressed tenfold ($T\beta$ is the same), so sampling is ten times cheaper.

**Cosine schedule** (Nichol & Dhariwal 2021) defines $\bar\alpha$ directly, $\bar\alpha_t = f(t)/f(0)$ with
$f(t) = \cos^2\!\big(\tfrac{t/T + s}{1+s}\cdot\tfrac{\pi}{2}\big)$, $s = 0.008$, and derives
$\beta_t = 1 - f(t)/f(t-1)$ for $t = 1..T$, **clipped to at most 0.999** (without the clip the last $\beta$ is
exactly 1). It destroys information more slowly at the start than the linear schedule.

### Exercise 1a — `make_schedule(T, beta_1, beta_T, kind="linear")`
Return a dict of three float64 CPU tensors of shape $(T,)$: `"betas"`, `"alphas"` $= 1-\beta$,
`"alphas_cumprod"` $= \bar\alpha$. For `kind="cosine"` ignore `beta_1` and `beta_T`; for any other `kind` raise
`ValueError`.
""",
    "cell-08": r"""
### Exercise 1b — `q_sample(x0, t, eps, schedule)`
Jump from $x_0$ to $x_t$: `x0` and `eps` are $(B, D)$ tensors (any float dtype, any device), `t` an int64 tensor
$(B,)$ of indices (each row has its own step). Return $\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$
in the dtype and on the device of `x0`. The schedule is float64 on the CPU: pick the rows' $\bar\alpha$ with
`schedule["alphas_cumprod"][t.cpu()]`, then move them (`.to(x0.device, x0.dtype)`) and make them $(B, 1)$ so they
broadcast over the coordinates. The noise is passed in, never drawn inside: that makes `q_sample` a pure function
you can test exactly.
""",
    "cell-11": r"""
**Check it against the step-by-step process.** The one-jump formula must give the same *distribution* as iterating
$x_t = \sqrt{1-\beta_t}x_{t-1} + \sqrt{\beta_t} z_t$ $t$ times. The cell below compares the mean and variance of
20,000 draws of both, for one starting point (the hidden checks do the same with their own draws). Then it shows
the forward process on the whole ring: the modes blur, merge, and end as a standard Gaussian.
""",
    "cell-13": r"""
## 2. The reverse step that we would like to take: the posterior $q(x_{t-1} \mid x_t, x_0)$

To generate, we must run the chain backwards: from $x_t$, draw $x_{t-1}$. The true reverse distribution
$q(x_{t-1}\mid x_t)$ depends on the whole data distribution and is unknown, but **given $x_0$** it is a Gaussian
we can write down, by Bayes' rule:

$$ q(x_{t-1} \mid x_t, x_0) \propto \underbrace{q(x_t \mid x_{t-1})}_{\mathcal{N}(x_t;\ \sqrt{\alpha_t}x_{t-1},\ \beta_t I)}
   \ \underbrace{q(x_{t-1} \mid x_0)}_{\mathcal{N}(x_{t-1};\ \sqrt{\bar\alpha_{t-1}}x_0,\ (1-\bar\alpha_{t-1}) I)}
   = \mathcal{N}\!\left(x_{t-1};\ \tilde\mu_t,\ \tilde\beta_t I\right), $$

$$ \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\, x_0
               + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\, x_t, \qquad
   \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t . $$

(Multiply the two Gaussian densities in $x_{t-1}$: precisions add, $1/\tilde\beta_t = \alpha_t/\beta_t +
1/(1-\bar\alpha_{t-1})$, and the mean is the precision-weighted average. Try it: it is two lines.)

The posterior mixes what we know, $x_0$ and $x_t$, and its variance $\tilde\beta_t$ is a little *smaller* than the
forward step's $\beta_t$. **Mind the indices:** $\bar\alpha_{t-1}$ is the *previous* step's cumulative product, and
at the very first step ($t = 1$, index `i = 0`) it is $\bar\alpha_0 = 1$. There $\tilde\beta_1 = 0$ and
$\tilde\mu_1 = x_0$: the last reverse step returns the clean point, without noise.

### Exercise 2 — `posterior_mean_var(x0, xt, t, schedule)`
`x0`, `xt`: $(B, D)$; `t`: int64 $(B,)$ indices. Return `(mean, var)`: the mean $(B, D)$ and the variance $(B,)$
(one number per row: the covariance is $\tilde\beta_t I$), both in the dtype and on the device of `x0`. Build
$\bar\alpha_{t-1}$ for every index as `torch.cat([ones(1), alphas_cumprod[:-1]])` rather than indexing with
`t - 1` (why? what is `alphas_cumprod[-1]`?).
""",
    "cell-16": r"""
## 3. Learning to denoise: the network, the loss, and sampling

We cannot use $\tilde\mu_t$ at sampling time: it needs $x_0$, the very thing we want to generate. DDPM trains a
network $\varepsilon_\theta(x_t, t)$ to **predict the noise** $\varepsilon$ that was added to get $x_t$. From a
prediction, $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$ (invert `q_sample`);
put $\hat x_0$ into $\tilde\mu_t$ and it simplifies to

$$ \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}}\left(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,
   \varepsilon_\theta(x_t, t)\right). $$

**The network (given).** A small MLP in the layout of
`nn.Sequential(Linear, SiLU, Linear, SiLU, Linear, SiLU, Linear)`: a dict `params` with the keys
`"net.0.weight"`, `"net.0.bias"`, `"net.2.*"`, `"net.4.*"`, `"net.6.*"` (PyTorch's `state_dict` names; weights
are $(\text{out}, \text{in})$, so a layer is `h @ W.T + b`). Its input is the point $x_t$ (2 numbers), a 32-dimensional
**sinusoidal embedding of the step index** $i$ (week 4's positional encoding, in another role: it tells the network
how much noise to expect) and, for a conditional model (section 5), a one-hot label. Hidden width 128, output 2: the
predicted noise.

### The training objective
The variational bound of DDPM reduces, up to weights that Ho et al. drop, to a plain regression:

$$ L(\theta) = \mathbb{E}_{x_0,\ i,\ \varepsilon}\ \big\| \varepsilon - \varepsilon_\theta\big(\sqrt{\bar\alpha_i}\,x_0 +
   \sqrt{1-\bar\alpha_i}\,\varepsilon,\ i\big)\big\|^2 . $$

**Reduction (part of the contract):** the squared norm sums over the $D$ coordinates and the result is the mean
over the batch. `F.mse_loss` would also divide by $D$: a different number.
""",
    "cell-18": r"""
### Exercise 3a — `eps_loss(params, x0, t, eps, schedule, y=None)`
Noise `x0` to $x_t$ with your `q_sample` (same `t`, same `eps`), predict the noise with `eps_net(params, x_t, t, y)`,
and return the scalar $\frac{1}{B}\sum_b \|\varepsilon_b - \hat\varepsilon_b\|^2$ (a 0-dimensional tensor that
autograd can differentiate).
""",
    "cell-21": r"""
### Exercise 3b — `p_sample_loop(params, n, generator, schedule, y=None, w=1.0)`: ancestral sampling
Start from pure noise and take the $T$ reverse steps, $i = T-1, T-2, \dots, 0$:

$$ x_{t-1} = \mu_\theta(x_t, t) + \sigma_t z, \qquad \sigma_t^2 = \tilde\beta_t, \qquad z \sim \mathcal{N}(0, I), $$

with **no noise at the last step** (`i = 0`, where $\tilde\beta_1 = 0$ anyway): return $\mu_\theta$ there.
(Ho et al. found $\sigma_t^2 = \beta_t$ works about as well; here the contract is $\tilde\beta_t$.)

**The random stream is part of the contract**, so that every correct solution draws the same samples from the same
seed:
* first $x_T$ = `torch.randn(n, 2, generator=generator, dtype=torch.float64)`;
* then, for every `i > 0` in the loop, one `z = torch.randn(n, 2, generator=generator, dtype=torch.float64)`;
  no draw at `i = 0`;
* both drawn on the CPU in float64, then moved to the device and dtype of the parameters
  (`params["net.0.weight"]`), where all the arithmetic happens; return the $(n, 2)$ samples there.

The noise prediction is `eps_net(params, x, t)` with `t = torch.full((n,), i)` when `y` is None. When a label
tensor `y` (int64, $(n,)$) is given, use `guided_eps(params, x, t, y, w)` from section 5 instead (leave that branch
until then). Sampling needs no gradients: wrap the loop in `torch.no_grad()`.
""",
    "cell-24": r"""
## 4. Training on the ring

### Exercise 4 — `train_ddpm(data, schedule, steps, batch_size, lr, seed, labels=None, num_classes=0, p_uncond=0.2)`
* `generator = torch.Generator().manual_seed(seed)`; `params = init_eps_net(generator, num_classes)`, moved to
  `DEVICE` with `requires_grad_(True)`;
* plain Adam on `net_tensors(params)` with learning rate `lr` (no schedule: a constant rate worked better here
  than one decaying to 0);
* every step draws, **in this order**, from `generator` on the CPU: the batch rows
  `torch.randint(0, len(data), (batch_size,))`, the indices `t = torch.randint(0, T, (batch_size,))`, the noise
  `eps = torch.randn(batch_size, 2)` and, only when `num_classes > 0`, `drop = torch.rand(batch_size) < p_uncond`;
* unconditional (`num_classes = 0`): `y = None`. Conditional (section 5): `y` is the rows' `labels`, replaced by
  `num_classes` ("no label") where `drop` is true;
* minimise `eps_loss` on the batch (moved to `DEVICE`), and return the trained parameters, detached (any device).

The public check runs a few steps. The real run below (tagged `skip-grading`) takes a few seconds. The grader trains
your `train_ddpm` on its own ring with 2,000 steps of batch 512 at `lr = 3e-3`, then samples from the parameters
with **its own** reverse process and measures how many samples land within $3\sigma$ of a centre and how many of
the 8 modes get a fair share.
""",
    "cell-28": r"""
### The reverse trajectory
The cell below reruns the reverse process step by step (the same formulas as your `p_sample_loop`) and keeps every
intermediate $x_t$. Noise first contracts towards the ring as a whole, then splits into the 8 modes only in the last
quarter of the steps, when $\bar\alpha$ is large enough for the network to tell them apart. The right panel follows
a few individual points over the last 30 steps (dots: where they end; crosses: the centres): each wanders while
the noise is large, then is pulled onto one mode.
""",
    "cell-30": r"""
## 5. Conditioning: choosing the mode with classifier-free guidance

The lecture notes list **conditionality** (조건성) among the properties we want from a generative model: draw not just
*a* point but a point *of a given kind* (a digit, a style, here: a mode of the ring). A **conditional** noise
predictor $\varepsilon_\theta(x_t, t, y)$ takes the label as an extra input. **Classifier-free guidance** (Ho &
Salimans 2022) trains *one* network for both tasks: with probability `p_uncond` the label is replaced by "no label"
($\varnothing$, index $K$ of the one-hot), so the same network also learns the unconditional
$\varepsilon_\theta(x_t, t, \varnothing)$. At sampling time the two predictions are mixed:

$$ \hat\varepsilon = \varepsilon_\theta(x_t, t, \varnothing) + w\,\big(\varepsilon_\theta(x_t, t, y) -
   \varepsilon_\theta(x_t, t, \varnothing)\big). $$

$w = 0$ is the unconditional model, $w = 1$ the conditional one, and $w > 1$ moves *further* in the direction that
separates "this label" from "any label", trading diversity for fidelity (Stable Diffusion's default is 7.5). This is
the convention of `diffusers` and of GLIDE/Imagen; Ho & Salimans write $(1+w')\varepsilon_c - w'\varepsilon_u$, the
same with $w = 1 + w'$.

### Exercise 5 — `guided_eps(params, x, t, y, w)`
Return $\hat\varepsilon$ above, $(B, 2)$, for a conditional network: `eps_net(params, x, t, None)` is the
unconditional branch, `eps_net(params, x, t, y)` the conditional one. Then `p_sample_loop(..., y=labels, w=w)`
samples with guidance (your branch from exercise 3b).
""",
    "cell-33": r"""
Now train a conditional model on the labelled ring (`num_classes=8`, 20% of the labels dropped; a few seconds) and
ask it for each mode in turn, at several guidance strengths. The rate in each title is the fraction of samples that
land within $3\sigma$ of the **requested** centre; chance is 1/8 of the samples that land on any mode. Look at both
ends: at $w = 0$ only the unconditional branch speaks, and it was trained on a fifth of the batches, so its ring is
blurred; at large $w$ the samples are pushed *past* their mode and streak outwards: too much guidance leaves the
data distribution.
""",
    "cell-35": r"""
Questions to think about (not graded): why does $w = 0$ still give a ring, and what colour pattern do you expect
there? What happens to the spread of each mode as $w$ grows, and why (hint: guidance sharpens
$p(y \mid x_t)^{w}$)? What would a *negative* $w$ do? Why must some labels be dropped during training: what would
$\varepsilon_\theta(x_t, t, \varnothing)$ be if `p_uncond = 0`?

## Summary

* The **forward process** adds Gaussian noise in $T$ steps; because Gaussians compose, $q(x_t\mid x_0)$ has the
  closed form $\mathcal{N}(\sqrt{\bar\alpha_t}x_0, (1-\bar\alpha_t)I)$ with $\bar\alpha_t$ a **product**.
* Given $x_0$, the reverse step is the Gaussian posterior $q(x_{t-1}\mid x_t, x_0)$ (Bayes' rule); its variance
  uses the **previous** step's $\bar\alpha_{t-1}$, which is 1 before the first step, so the last reverse step adds no
  noise.
* The network predicts the **noise**; training is a regression (the simplified DDPM loss), sampling is $T$
  ancestral steps from $\mathcal{N}(0, I)$. The grader judges your trained network by **its own** sampler.
* **Classifier-free guidance** conditions one network on a label, and $w$ trades diversity for fidelity.

**Before submitting:** *Kernel → Restart & Run All*, then `autograder check diffusion.ipynb`.
Do not rename the graded functions or change their signatures.
""",
}

